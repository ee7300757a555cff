package dev.berth.oci;

import dev.berth.oci.OciException.NotFound;

import dev.berth.oci.auth.AuthChallenge;
import dev.berth.oci.auth.RegistryCredentials;
import dev.berth.oci.auth.RegistryCredentials.Credential;
import dev.berth.oci.auth.RegistryHostName;
import dev.berth.oci.auth.RegistryHosts;
import dev.berth.oci.auth.RegistryTrust;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import javax.net.ssl.SSLContext;

/**
 * A client of the OCI distribution API: resolves references to manifests, streams blobs, pushes.
 * <p>
 * Transport: registries on loopback, and those declared insecure in {@link RegistryHosts}, are spoken to over plain
 * HTTP; all others over HTTPS, and an HTTPS registry is never retried over HTTP. Certificates are checked against
 * the system trust store (the JDK's default {@link SSLContext}: its {@code cacerts}, or {@code javax.net.ssl.trustStore})
 * and, for a host with a CA file in {@link RegistryHosts}, against that file as well. A certificate that does not
 * verify fails the request with a message that says what to trust. Redirects are followed here rather than by the
 * {@link HttpClient} (at most {@value #MAX_REDIRECTS}, never from HTTPS to HTTP unless the client was built with
 * {@link HttpClient.Redirect#ALWAYS}), so that the {@code Authorization} header is dropped when a redirect leaves
 * the origin, e.g. a blob redirected to a CDN. Headers must arrive within the request timeout; a body may take as
 * long as it needs, but one that sends nothing for the {@link StallTimeout} fails with a {@link RegistryStalledException}.
 * <p>
 * Authentication, from the registry's {@code 401} challenge ({@code WWW-Authenticate}):
 * <ul>
 * <li>{@code Bearer}: a token is fetched from the challenge's realm with its {@code service} and the scope
 * {@code repository:NAME:pull} (or {@code pull,push} for pushes), anonymously or, when {@link RegistryCredentials}
 * has an entry for the registry, with HTTP Basic auth of its username and password (an identity token is
 * exchanged as an OAuth2 refresh token instead). Tokens are cached per registry, repository and access, and
 * fetched anew when their {@code expires_in} (60 s if absent) has run out or the registry answers 401 again.</li>
 * <li>{@code Basic}: the request is retried with the registry's username and password, which are then sent
 * up front to that host.</li>
 * </ul>
 * Secrets never appear in exception messages or logs.
 * <p>
 * Mirrors: pulls (tag lookups, manifests by digest, blobs) try the registry's mirrors from {@link RegistryHosts} in
 * order, skipping a mirror that cannot be reached, answers 5xx or 404, refuses access or serves content that does
 * not verify, then the upstream registry. Pushes and {@link #blobExists} always go upstream.
 */
public final class RegistryClient {

    /** Manifests and configs are small; a registry that sends more is refused (a decompression-bomb class of its own). */
    public static final int MAX_MANIFEST_BYTES = 4 << 20;
    /** Redirects followed for one request, as the JDK's own client does. */
    public static final int MAX_REDIRECTS = 5;
    /** Docker's token specification: a token without {@code expires_in} is good for 60 seconds. */
    private static final long DEFAULT_TOKEN_SECONDS = 60;
    private static final int MAX_TOKEN_RESPONSE_BYTES = 1 << 20;
    private static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(10);
    /** A mirror that could not be reached is skipped for this long, so that a dead one does not cost a timeout per blob. */
    static final Duration MIRROR_BACKOFF = Duration.ofSeconds(30);
    private static final System.Logger LOG = System.getLogger(RegistryClient.class.getName());

    private final HttpClient http;
    private final HttpClient.Redirect redirects;
    private final RegistryHosts hosts;
    private final RegistryCredentials credentials;
    private final RegistryFailures failures;
    private final StallTimeout stall;
    /** Bearer tokens by "authority repository actions". */
    private final Map<String, Token> tokens = new ConcurrentHashMap<>();
    /** Authorities that asked for Basic auth and accepted the credentials: they get them up front. */
    private final Set<String> basicHosts = ConcurrentHashMap.newKeySet();
    /** Mirrors (by base URL) that could not be reached, with the System.nanoTime() until which they are skipped. */
    private final Map<String, Long> mirrorDownUntil = new ConcurrentHashMap<>();
    /** For hosts with their own CA file: {@link #http}'s settings with a trust store of the system's CAs plus that file's. */
    private final Map<String, HttpClient> caClients = new ConcurrentHashMap<>();

    /** What a request needs of the registry: the actions of its token scope. */
    private enum Access {
        PULL("pull"), PUSH("pull,push");

        final String actions;

        Access(String actions) {
            this.actions = actions;
        }
    }

    /** Where a request goes: the upstream registry or one of its mirrors. */
    record Endpoint(URI base, String authority, String credentialKey, String label, boolean mirror) {
        URI api(Reference ref, String suffix) {
            return URI.create(base + "/v2/" + ref.repository() + suffix);
        }
    }

    private record Token(String value, long expiresAtNanos, AuthChallenge challenge) {
        boolean expired() {
            return System.nanoTime() - expiresAtNanos >= 0;
        }
    }

    /** No mirrors, no credentials: anonymous pulls, HTTPS except on loopback. */
    public RegistryClient() {
        this(defaultHttpClient());
    }

    public RegistryClient(HttpClient http) {
        this(http, RegistryHosts.none(), RegistryCredentials.none());
    }

    public RegistryClient(RegistryHosts hosts, RegistryCredentials credentials) {
        this(defaultHttpClient(), hosts, credentials);
    }

    /**
     * @param http        connection settings (timeouts, TLS, proxy, redirect policy) are taken from it; redirects are
     *                    followed by this class so that credentials stay with their origin. For hosts with a CA file
     *                    in {@code hosts} its TLS context is replaced by the system trust store plus that file.
     * @param hosts       mirrors and insecure registries ({@link RegistryHosts#none()} for none)
     * @param credentials registry credentials ({@link RegistryCredentials#none()} for anonymous access only)
     */
    public RegistryClient(HttpClient http, RegistryHosts hosts, RegistryCredentials credentials) {
        this(http, hosts, credentials, StallTimeout.DEFAULT);
    }

    public RegistryClient(RegistryHosts hosts, RegistryCredentials credentials, StallTimeout stall) {
        this(defaultHttpClient(), hosts, credentials, stall);
    }

    /**
     * As {@link #RegistryClient(HttpClient, RegistryHosts, RegistryCredentials)}; {@code stall}: a response that
     * sends nothing for this long fails (headers have their own timeout, bodies only this one).
     */
    public RegistryClient(HttpClient http, RegistryHosts hosts, RegistryCredentials credentials, StallTimeout stall) {
        this.stall = stall;
        this.redirects = http.followRedirects();
        this.http = http.followRedirects() == HttpClient.Redirect.NEVER ? http : withoutRedirects(http);
        this.hosts = hosts == null ? RegistryHosts.none() : hosts;
        this.credentials = credentials == null ? RegistryCredentials.none() : credentials;
        this.failures = new RegistryFailures(this.hosts, this.credentials);
    }

    /**
     * The client the no-argument constructors use: 10 s connect timeout, HTTP/1.1, redirects followed, and the JDK's
     * default TLS context, i.e. the system trust store.
     */
    public static HttpClient defaultHttpClient() {
        return HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    private static HttpClient withoutRedirects(HttpClient c) {
        return copy(c, c.sslContext());
    }

    /** {@code c}'s settings, redirects not followed, with this TLS context. */
    private static HttpClient copy(HttpClient c, SSLContext ssl) {
        HttpClient.Builder b = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(c.version())
                .sslContext(ssl)
                .sslParameters(c.sslParameters());
        c.connectTimeout().ifPresent(b::connectTimeout);
        c.proxy().ifPresent(b::proxy);
        c.authenticator().ifPresent(b::authenticator);
        c.cookieHandler().ifPresent(b::cookieHandler);
        c.executor().ifPresent(b::executor);
        return b.build();
    }

    public RegistryHosts hosts() {
        return hosts;
    }

    /** A manifest or index as fetched: its exact bytes (digests are over these), its media type and digest. */
    public record FetchedManifest(byte[] bytes, String mediaType, Digest digest) {
        public Descriptor descriptor() {
            return new Descriptor(mediaType, digest, bytes.length);
        }
    }

    /** An image resolved for one platform: the top-level digest the reference points to and the platform's manifest. */
    public record ResolvedImage(Reference reference, Descriptor target, FetchedManifest manifestBytes, Manifest manifest, byte[] targetBytes) {
    }

    public ResolvedImage resolve(Reference ref, Platform platform) {
        FetchedManifest top = fetchManifest(ref, ref.manifestReference());
        FetchedManifest chosen = top;
        if (MediaTypes.isIndex(top.mediaType())) {
            Index index = Json.read(top.bytes(), Index.class, "image index " + ref);
            Descriptor pick = null;
            if (index.manifests() != null) {
                for (Descriptor d : index.manifests()) {
                    if (platform.matches(d.platform()) && MediaTypes.isManifest(d.mediaType())) {
                        pick = d;
                        break;
                    }
                }
            }
            if (pick == null) {
                StringBuilder have = new StringBuilder();
                if (index.manifests() != null) {
                    for (Descriptor d : index.manifests()) if (d.platform() != null) have.append(have.length() == 0 ? "" : ", ").append(d.platform());
                }
                throw new OciException("image " + ref + " has no manifest for platform " + platform + " (it has: " + (have.length() == 0 ? "none" : have) + "); pick an image built for " + platform);
            }
            chosen = fetchManifest(ref, pick.digest().toString());
            if (!chosen.digest().equals(pick.digest())) {
                throw new OciException("manifest " + pick.digest() + " of " + ref + " does not match its digest (got " + chosen.digest() + "): the registry served corrupt content");
            }
        }
        if (!MediaTypes.isManifest(chosen.mediaType())) {
            throw new OciException("unsupported manifest media type '" + chosen.mediaType() + "' for " + ref + ": Berth pulls OCI and Docker schema 2 images");
        }
        Manifest m = Json.read(chosen.bytes(), Manifest.class, "image manifest of " + ref);
        if (m.config() == null || m.layers() == null) {
            throw new OciException("malformed image manifest of " + ref + ": it lacks a config or layers");
        }
        return new ResolvedImage(ref, top.descriptor(), chosen, m, top.bytes());
    }

    /** Fetches a manifest or index by tag or digest, from a mirror if one has it, else from the registry. */
    public FetchedManifest fetchManifest(Reference ref, String reference) {
        boolean byTag = !Digest.isDigest(reference);
        return pull(ref, byTag, ep -> fetchManifest(ref, reference, ep));
    }

    private FetchedManifest fetchManifest(Reference ref, String reference, Endpoint ep) {
        URI uri = ep.api(ref, "/manifests/" + reference);
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).GET().header("Accept", String.join(", ", MediaTypes.MANIFEST_ACCEPT));
        HttpResponse<InputStream> resp = send(ref, ep, Access.PULL, rb);
        try (InputStream in = resp.body()) {
            if (resp.statusCode() == 404) {
                throw new NotFound("image not found: " + ref + " (the registry has no such repository, tag or digest); check the name and tag");
            }
            expectOk(ep, ref, resp, "manifest");
            byte[] bytes = in.readNBytes(MAX_MANIFEST_BYTES + 1);
            if (bytes.length > MAX_MANIFEST_BYTES) {
                throw new OciException("manifest of " + ref + " is larger than " + MAX_MANIFEST_BYTES + " bytes: refused");
            }
            Digest actual = Digest.sha256(bytes);
            if (Digest.isDigest(reference) && !Digest.parse(reference).equals(actual)) {
                throw new OciException("manifest of " + ref + " does not match the digest asked for (got " + actual + "): the registry served corrupt content");
            }
            String mt = resp.headers().firstValue("Content-Type").map(RegistryClient::stripParams).orElse("");
            if (!MediaTypes.isIndex(mt) && !MediaTypes.isManifest(mt)) {
                mt = sniffMediaType(bytes, ref, mt);
            }
            return new FetchedManifest(bytes, mt, actual);
        } catch (IOException e) {
            throw failures.unreachable(ep, e);
        }
    }

    /** Opens a blob from offset {@code from} (HTTP Range), from a mirror if one has it; the caller verifies its digest. */
    public InputStream openBlob(Reference ref, Digest digest, long from) {
        return pull(ref, false, ep -> openBlob(ref, digest, from, ep));
    }

    private InputStream openBlob(Reference ref, Digest digest, long from, Endpoint ep) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(ep.api(ref, "/blobs/" + digest)).GET();
        if (from > 0) rb.header("Range", "bytes=" + from + "-");
        HttpResponse<InputStream> resp = send(ref, ep, Access.PULL, rb);
        if (resp.statusCode() == 404) {
            close(resp);
            throw new NotFound("blob " + digest + " of " + ref + " not found in the registry; the image is incomplete there");
        }
        if (from > 0 && resp.statusCode() == 200) {
            close(resp);
            throw new OciException("registry " + ep.label() + " ignored a Range request for blob " + digest);
        }
        expectOk(ep, ref, resp, "blob " + digest);
        return resp.body();
    }

    /** Whether the registry itself (never a mirror) has the blob. */
    public boolean blobExists(Reference ref, Digest digest) {
        return blobExists(ref, digest, Access.PULL);
    }

    private boolean blobExists(Reference ref, Digest digest, Access access) {
        Endpoint ep = upstream(ref);
        HttpResponse<InputStream> resp = send(ref, ep, access,
                HttpRequest.newBuilder(ep.api(ref, "/blobs/" + digest)).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        close(resp);
        return resp.statusCode() == 200;
    }

    /** Uploads a blob in one monolithic PUT, unless the registry has it already. */
    public void pushBlob(Reference ref, Digest digest, Path file) {
        if (blobExists(ref, digest, Access.PUSH)) return;
        Endpoint ep = upstream(ref);
        HttpResponse<InputStream> start = send(ref, ep, Access.PUSH, HttpRequest.newBuilder(ep.api(ref, "/blobs/uploads/")).POST(HttpRequest.BodyPublishers.noBody()));
        close(start);
        if (start.statusCode() != 202) throw RegistryFailures.status(ep, ref, start, "blob upload start");
        String location = start.headers().firstValue("Location")
                .orElseThrow(() -> new OciException("registry " + ref.registry() + " gave no upload location"));
        URI base = ep.api(ref, "/blobs/uploads/");
        URI upload = base.resolve(location);
        String sep = upload.getQuery() == null ? "?" : "&";
        URI put = URI.create(upload + sep + "digest=" + digest);
        try {
            HttpResponse<InputStream> done = send(ref, ep, Access.PUSH, HttpRequest.newBuilder(put)
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.ofFile(file)));
            close(done);
            if (done.statusCode() != 201) throw RegistryFailures.status(ep, ref, done, "blob upload");
        } catch (java.io.FileNotFoundException e) {
            throw new OciException("cannot read " + file + " to push", e);
        }
    }

    public Digest pushManifest(Reference ref, String tag, byte[] bytes, String mediaType) {
        Endpoint ep = upstream(ref);
        HttpResponse<InputStream> resp = send(ref, ep, Access.PUSH, HttpRequest.newBuilder(ep.api(ref, "/manifests/" + tag))
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)));
        close(resp);
        if (resp.statusCode() != 201) throw RegistryFailures.status(ep, ref, resp, "manifest upload");
        return Digest.sha256(bytes);
    }

    // ---- endpoints and mirrors ----

    private Endpoint upstream(Reference ref) {
        String host = ref.apiHost();
        boolean plain = ref.isLoopback() && hosts.ca(ref.registry()).isEmpty() || hosts.isInsecure(ref.registry()) || hosts.isInsecure(host);
        return new Endpoint(URI.create((plain ? "http" : "https") + "://" + host), host.toLowerCase(Locale.ROOT),
                ref.registry(), ref.registry(), false);
    }

    private List<Endpoint> pullEndpoints(Reference ref, boolean byTag) {
        List<Endpoint> out = new ArrayList<>();
        for (RegistryHosts.Mirror m : hosts.mirrors(ref.registry())) {
            if (byTag && !m.resolve()) continue;
            out.add(new Endpoint(m.url(), m.host(), m.host(), "mirror " + m.url(), true));
        }
        out.add(upstream(ref));
        return out;
    }

    /**
     * Tries each mirror in order, then the registry; the registry's failure is the one reported, with the mirrors'.
     * A mirror that cannot be reached is skipped for {@link #MIRROR_BACKOFF}.
     */
    private <T> T pull(Reference ref, boolean byTag, Function<Endpoint, T> attempt) {
        List<Endpoint> endpoints = pullEndpoints(ref, byTag);
        List<String> failed = new ArrayList<>();
        for (Endpoint ep : endpoints) {
            if (!ep.mirror()) {
                try {
                    return attempt.apply(ep);
                } catch (OciException e) {
                    if (failed.isEmpty()) throw e;
                    throw new OciException(e.getMessage() + " (mirrors tried first: " + String.join("; ", failed) + ")", e);
                }
            }
            String key = ep.base().toString();
            Long downUntil = mirrorDownUntil.get(key);
            if (downUntil != null) {
                if (System.nanoTime() - downUntil < 0) {
                    failed.add(ep.base() + " skipped: unreachable within the last " + MIRROR_BACKOFF.toSeconds() + " s");
                    continue;
                }
                mirrorDownUntil.remove(key, downUntil);
            }
            try {
                return attempt.apply(ep);
            } catch (OciException e) {
                if (Thread.currentThread().isInterrupted()) throw e;
                failed.add(ep.base() + " failed: " + e.getMessage());
                if (e instanceof NotFound) {
                    LOG.log(System.Logger.Level.DEBUG, "{0} does not have {1}, trying the next: {2}", ep.label(), ref, e.getMessage());
                } else if (e.getCause() instanceof IOException) {
                    mirrorDownUntil.put(key, System.nanoTime() + MIRROR_BACKOFF.toNanos());
                    LOG.log(System.Logger.Level.WARNING, "{0} cannot be reached, skipping it for {1} s: {2}", ep.label(), MIRROR_BACKOFF.toSeconds(), e.getMessage());
                } else {
                    LOG.log(System.Logger.Level.INFO, "{0} failed for {1}, trying the next: {2}", ep.label(), ref, e.getMessage());
                }
            }
        }
        throw new IllegalStateException("the registry itself is always the last endpoint");
    }

    // ---- authentication ----

    private HttpResponse<InputStream> send(Reference ref, Endpoint ep, Access access, HttpRequest.Builder rb) {
        String tokenKey = ep.authority() + " " + ref.repository() + " " + access.actions;
        Optional<Credential> cred = credentials.find(ep.credentialKey());
        rb.timeout(REQUEST_TIMEOUT);
        try {
            boolean sentAuth = authorize(ref, ep, access, tokenKey, cred, rb);
            HttpResponse<InputStream> resp = exchange(rb.build());
            if (resp.statusCode() != 401) return resp;
            Optional<AuthChallenge> challenge = AuthChallenge.preferred(AuthChallenge.parse(resp.headers().allValues("WWW-Authenticate")));
            close(resp);
            if (challenge.isPresent() && challenge.get().isBearer()) {
                // no token yet, or the registry no longer takes the one we had: fetch a fresh one, once
                tokens.remove(tokenKey);
                Token fresh = fetchToken(ref, ep, access, challenge.get(), cred);
                tokens.put(tokenKey, fresh);
                HttpResponse<InputStream> again = exchange(rb.setHeader("Authorization", "Bearer " + fresh.value()).build());
                if (again.statusCode() == 401) {
                    close(again);
                    tokens.remove(tokenKey);
                    throw cred.isPresent() ? failures.refused(ep, ref, 401) : failures.requiresAuthentication(ep, ref);
                }
                return again;
            }
            if (challenge.isPresent() && challenge.get().isBasic() && cred.isPresent()) {
                if (!cred.get().hasPassword()) {
                    throw new OciException("registry " + ep.label() + " asks for a password (HTTP Basic) for " + ref.repository()
                            + " but its credentials hold only an identity token: put a username and password for it in the credentials file");
                }
                if (sentAuth && basicHosts.contains(ep.authority())) {
                    basicHosts.remove(ep.authority());
                    throw failures.refused(ep, ref, 401);
                }
                HttpResponse<InputStream> again = exchange(rb.setHeader("Authorization", cred.get().basicAuthorization()).build());
                if (again.statusCode() == 401) {
                    close(again);
                    throw failures.refused(ep, ref, 401);
                }
                basicHosts.add(ep.authority());
                return again;
            }
            throw failures.requiresAuthentication(ep, ref);
        } catch (IOException e) {
            throw failures.unreachable(ep, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OciException("interrupted while talking to registry " + ep.label(), e);
        }
    }

    /** Sets the Authorization header we already know to be needed; returns whether one was set. */
    private boolean authorize(Reference ref, Endpoint ep, Access access, String tokenKey, Optional<Credential> cred,
                              HttpRequest.Builder rb) throws IOException, InterruptedException {
        if (basicHosts.contains(ep.authority()) && cred.isPresent() && cred.get().hasPassword()) {
            rb.setHeader("Authorization", cred.get().basicAuthorization());
            return true;
        }
        Token t = tokens.get(tokenKey);
        if (t == null) return false;
        if (t.expired()) {
            t = fetchToken(ref, ep, access, t.challenge(), cred);
            tokens.put(tokenKey, t);
        }
        rb.setHeader("Authorization", "Bearer " + t.value());
        return true;
    }

    /** Docker's token flow: GET the realm (Basic auth with a password), or POST it an OAuth2 refresh token. */
    private Token fetchToken(Reference ref, Endpoint ep, Access access, AuthChallenge challenge, Optional<Credential> cred)
            throws IOException, InterruptedException {
        String realm = challenge.param("realm");
        if (realm == null || realm.isBlank()) {
            throw new OciException("registry " + ep.label() + " sent a bearer challenge without a realm");
        }
        URI realmUri;
        try {
            realmUri = URI.create(realm);
        } catch (IllegalArgumentException e) {
            throw new OciException("registry " + ep.label() + " sent a bearer challenge with an invalid realm");
        }
        String scheme = realmUri.getScheme() == null ? "" : realmUri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || realmUri.getRawAuthority() == null) {
            throw new OciException("registry " + ep.label() + " sent a bearer challenge whose realm is not an http(s) URL");
        }
        if (cred.isPresent() && scheme.equals("http") && !hosts.plainHttp(realmUri.getRawAuthority())) {
            throw new OciException("registry " + ep.label() + " asks for credentials at a plain-HTTP token service (" + realmUri.getRawAuthority()
                    + "): Berth sends credentials over HTTP only to loopback and to hosts declared insecure in the hosts file");
        }
        String service = challenge.param("service");
        String challengeScope = challenge.param("scope");
        String scope = "repository:" + ref.repository() + ":" + access.actions;
        HttpRequest.Builder rb;
        if (cred.isPresent() && cred.get().hasIdentityToken()) {
            StringBuilder form = new StringBuilder("grant_type=refresh_token&client_id=berth&refresh_token=").append(enc(cred.get().identityToken()));
            if (service != null) form.append("&service=").append(enc(service));
            String scopes = challengeScope == null || challengeScope.equals(scope) ? scope : challengeScope + " " + scope;
            form.append("&scope=").append(enc(scopes));
            rb = HttpRequest.newBuilder(realmUri)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(form.toString()));
        } else {
            StringBuilder query = new StringBuilder();
            if (service != null) query.append("service=").append(enc(service));
            if (challengeScope != null) query.append(query.length() == 0 ? "" : "&").append("scope=").append(enc(challengeScope));
            if (!scope.equals(challengeScope)) query.append(query.length() == 0 ? "" : "&").append("scope=").append(scope);
            String sep = realm.indexOf('?') < 0 ? "?" : "&";
            rb = HttpRequest.newBuilder(URI.create(realm + sep + query)).GET();
            if (cred.isPresent()) rb.header("Authorization", cred.get().basicAuthorization());
        }
        long asked = System.nanoTime();
        HttpResponse<InputStream> resp = exchange(rb.timeout(Duration.ofMinutes(1)).build());
        byte[] body;
        try (InputStream in = resp.body()) {
            body = in.readNBytes(MAX_TOKEN_RESPONSE_BYTES);
        }
        int sc = resp.statusCode();
        if (sc != 200) {
            if (cred.isPresent() && (sc == 401 || sc == 403)) throw failures.refused(ep, ref, sc);
            if (cred.isPresent()) {
                throw new OciException("registry " + ep.label() + " token service answered HTTP " + sc + " for " + ref.repository() + " with the configured credentials");
            }
            throw new OciException("registry " + ep.label() + " refused an anonymous token for " + ref.repository() + " (HTTP " + sc
                    + "); the image may be private: configure credentials" + failures.helperHint(ep));
        }
        com.fasterxml.jackson.databind.JsonNode node;
        try {
            node = Json.MAPPER.readTree(body);
        } catch (IOException e) {
            // never quote the body: it may hold a token
            throw new OciException("registry " + ep.label() + " token service answered with something that is not JSON");
        }
        String t = node == null ? null
                : node.hasNonNull("token") && !node.get("token").asText().isEmpty() ? node.get("token").asText()
                : node.path("access_token").asText(null);
        if (t == null || t.isEmpty()) throw new OciException("registry " + ep.label() + " token response had no token");
        long seconds = node.path("expires_in").canConvertToLong() ? node.path("expires_in").asLong() : 0;
        if (seconds <= 0) seconds = DEFAULT_TOKEN_SECONDS;
        long lifetime = Duration.ofSeconds(seconds).toNanos();
        // renew a little early so that a token does not run out between our check and the registry's
        long margin = Math.min(Duration.ofSeconds(10).toNanos(), lifetime / 5);
        return new Token(t, asked + lifetime - margin, challenge);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
    // ---- transport ----

    /** Sends, following redirects here: Authorization goes along only while the origin stays the same. */
    private HttpResponse<InputStream> exchange(HttpRequest request) throws IOException, InterruptedException {
        HttpRequest current = request;
        for (int hop = 0; ; hop++) {
            HttpResponse<InputStream> resp = clientFor(current.uri()).send(current, StallGuardedBody.handler(stall, current.uri()));
            int sc = resp.statusCode();
            if (redirects == HttpClient.Redirect.NEVER || hop >= MAX_REDIRECTS
                    || (sc != 301 && sc != 302 && sc != 303 && sc != 307 && sc != 308)) {
                return resp;
            }
            Optional<String> location = resp.headers().firstValue("Location");
            if (location.isEmpty()) return resp;
            URI next;
            try {
                next = current.uri().resolve(location.get().trim());
            } catch (IllegalArgumentException e) {
                return resp;
            }
            String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https") || next.getHost() == null) return resp;
            if (redirects != HttpClient.Redirect.ALWAYS && scheme.equals("http") && current.uri().getScheme().equalsIgnoreCase("https")) {
                return resp; // never downgrade, as HttpClient.Redirect.NORMAL
            }
            close(resp);
            boolean sameOrigin = sameOrigin(current.uri(), next);
            String method = current.method();
            boolean toGet = (sc == 303 && !method.equals("HEAD")) || ((sc == 301 || sc == 302) && method.equals("POST"));
            HttpRequest.Builder b = HttpRequest.newBuilder(current, (name, value) ->
                    (sameOrigin || !name.equalsIgnoreCase("Authorization")) && !(toGet && name.equalsIgnoreCase("Content-Type")))
                    .uri(next);
            if (toGet) b.GET();
            current = b.build();
        }
    }

    /** The client for a request: the one given, unless the host has its own CA file. */
    private HttpClient clientFor(URI uri) {
        if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getRawAuthority() == null) return http;
        Optional<RegistryHosts.CaFile> ca = hosts.ca(uri.getRawAuthority());
        if (ca.isEmpty()) return http;
        return caClients.computeIfAbsent(RegistryHostName.canonical(uri.getRawAuthority()),
                h -> copy(http, RegistryTrust.withSystemTrust(ca.get().certificates())));
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : u.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    private static void expectOk(Endpoint ep, Reference ref, HttpResponse<InputStream> resp, String what) {
        if (resp.statusCode() != 200 && resp.statusCode() != 206) {
            close(resp);
            throw RegistryFailures.status(ep, ref, resp, what);
        }
    }
    private static void close(HttpResponse<InputStream> resp) {
        try {
            resp.body().close();
        } catch (IOException ignored) {
            // nothing to do: the response is being discarded
        }
    }

    private static String stripParams(String ct) {
        int semi = ct.indexOf(';');
        return (semi < 0 ? ct : ct.substring(0, semi)).trim();
    }

    /** Some registries send application/json; the document's own mediaType field, or its shape, tells. */
    private static String sniffMediaType(byte[] bytes, Reference ref, String contentType) {
        try {
            var node = Json.MAPPER.readTree(bytes);
            String mt = node.path("mediaType").asText("");
            if (!mt.isEmpty()) return mt;
            if (node.has("manifests")) return MediaTypes.OCI_INDEX;
            if (node.has("layers")) return MediaTypes.OCI_MANIFEST;
        } catch (IOException e) {
            throw new OciException("malformed manifest for " + ref + ": not JSON");
        }
        if (!contentType.isEmpty() && !contentType.equals("application/json") && !contentType.equals("text/plain")
                && !contentType.equals("application/octet-stream")) {
            throw new OciException("unsupported manifest media type '" + contentType + "' for " + ref + ": Berth pulls OCI and Docker schema 2 images");
        }
        throw new OciException("malformed manifest for " + ref + ": neither a manifest nor an index");
    }
}
