package dev.berth.oci;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A client of the OCI distribution API: resolves references to manifests, streams blobs, pushes.
 * Registries on loopback are spoken to over plain HTTP, all others over HTTPS with the system trust store.
 * Anonymous bearer tokens are obtained from the registry's WWW-Authenticate challenge.
 */
public final class RegistryClient {

    /** Manifests and configs are small; a registry that sends more is refused (a decompression-bomb class of its own). */
    public static final int MAX_MANIFEST_BYTES = 4 << 20;

    private static final Pattern CHALLENGE_PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

    private final HttpClient http;
    private final Map<String, String> tokens = new ConcurrentHashMap<>();

    public RegistryClient() {
        this(HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL)
                .version(HttpClient.Version.HTTP_1_1)
                .build());
    }

    public RegistryClient(HttpClient http) {
        this.http = http;
    }

    /** A manifest or index as fetched: its exact bytes (digests are over these), its media type and digest. */
    public record FetchedManifest(byte[] bytes, String mediaType, Digest digest) {
        public Descriptor descriptor() {
            return new Descriptor(mediaType, digest, bytes.length);
        }
    }

    /** An image resolved for one platform: the top-level digest the reference points to and the platform's manifest. */
    public record ResolvedImage(Reference reference, Descriptor target, FetchedManifest manifestBytes, Manifest manifest) {
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
        return new ResolvedImage(ref, top.descriptor(), chosen, m);
    }

    public FetchedManifest fetchManifest(Reference ref, String reference) {
        URI uri = api(ref, "/manifests/" + reference);
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).GET().header("Accept", String.join(", ", MediaTypes.MANIFEST_ACCEPT));
        HttpResponse<InputStream> resp = send(ref, rb);
        try (InputStream in = resp.body()) {
            if (resp.statusCode() == 404) {
                throw new OciException("image not found: " + ref + " (the registry has no such repository, tag or digest); check the name and tag");
            }
            expectOk(ref, resp, "manifest");
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
            throw unreachable(ref, e);
        }
    }

    /** Opens a blob from offset {@code from} (HTTP Range); the caller verifies its digest. */
    public InputStream openBlob(Reference ref, Digest digest, long from) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(api(ref, "/blobs/" + digest)).GET();
        if (from > 0) rb.header("Range", "bytes=" + from + "-");
        HttpResponse<InputStream> resp = send(ref, rb);
        if (resp.statusCode() == 404) {
            close(resp);
            throw new OciException("blob " + digest + " of " + ref + " not found in the registry; the image is incomplete there");
        }
        if (from > 0 && resp.statusCode() == 200) {
            close(resp);
            throw new OciException("registry " + ref.registry() + " ignored a Range request for blob " + digest);
        }
        expectOk(ref, resp, "blob " + digest);
        return resp.body();
    }

    public boolean blobExists(Reference ref, Digest digest) {
        HttpResponse<InputStream> resp = send(ref, HttpRequest.newBuilder(api(ref, "/blobs/" + digest)).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        close(resp);
        return resp.statusCode() == 200;
    }

    /** Uploads a blob in one monolithic PUT, unless the registry has it already. */
    public void pushBlob(Reference ref, Digest digest, Path file) {
        if (blobExists(ref, digest)) return;
        HttpResponse<InputStream> start = send(ref, HttpRequest.newBuilder(api(ref, "/blobs/uploads/")).POST(HttpRequest.BodyPublishers.noBody()));
        close(start);
        if (start.statusCode() != 202) throw status(ref, start, "blob upload start");
        String location = start.headers().firstValue("Location")
                .orElseThrow(() -> new OciException("registry " + ref.registry() + " gave no upload location"));
        URI base = api(ref, "/blobs/uploads/");
        URI upload = base.resolve(location);
        String sep = upload.getQuery() == null ? "?" : "&";
        URI put = URI.create(upload + sep + "digest=" + digest);
        try {
            HttpResponse<InputStream> done = send(ref, HttpRequest.newBuilder(put)
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.ofFile(file)));
            close(done);
            if (done.statusCode() != 201) throw status(ref, done, "blob upload");
        } catch (java.io.FileNotFoundException e) {
            throw new OciException("cannot read " + file + " to push", e);
        }
    }

    public Digest pushManifest(Reference ref, String tag, byte[] bytes, String mediaType) {
        HttpResponse<InputStream> resp = send(ref, HttpRequest.newBuilder(api(ref, "/manifests/" + tag))
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)));
        close(resp);
        if (resp.statusCode() != 201) throw status(ref, resp, "manifest upload");
        return Digest.sha256(bytes);
    }

    private URI api(Reference ref, String suffix) {
        String scheme = ref.isLoopback() ? "http" : "https";
        return URI.create(scheme + "://" + ref.apiHost() + "/v2/" + ref.repository() + suffix);
    }

    private HttpResponse<InputStream> send(Reference ref, HttpRequest.Builder rb) {
        String key = ref.apiHost() + "/" + ref.repository();
        String token = tokens.get(key);
        if (token != null) rb.setHeader("Authorization", "Bearer " + token);
        HttpRequest req = rb.timeout(Duration.ofMinutes(10)).build();
        try {
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            if (resp.statusCode() == 401) {
                Optional<String> challenge = resp.headers().firstValue("WWW-Authenticate");
                close(resp);
                if (challenge.isPresent() && challenge.get().regionMatches(true, 0, "Bearer ", 0, 7)) {
                    String fresh = fetchToken(ref, challenge.get());
                    tokens.put(key, fresh);
                    return http.send(rb.setHeader("Authorization", "Bearer " + fresh).build(), HttpResponse.BodyHandlers.ofInputStream());
                }
                throw new OciException("registry " + ref.registry() + " requires authentication for " + ref.repository() + "; configure credentials for it");
            }
            return resp;
        } catch (IOException e) {
            throw unreachable(ref, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OciException("interrupted while talking to registry " + ref.registry(), e);
        }
    }

    private String fetchToken(Reference ref, String challenge) throws IOException, InterruptedException {
        Matcher m = CHALLENGE_PARAM.matcher(challenge);
        String realm = null;
        StringBuilder query = new StringBuilder();
        while (m.find()) {
            if (m.group(1).equals("realm")) realm = m.group(2);
            else query.append(query.length() == 0 ? "?" : "&").append(m.group(1)).append('=').append(java.net.URLEncoder.encode(m.group(2), java.nio.charset.StandardCharsets.UTF_8));
        }
        if (realm == null) throw new OciException("registry " + ref.registry() + " sent a bearer challenge without a realm");
        if (query.indexOf("scope=") < 0) query.append(query.length() == 0 ? "?" : "&").append("scope=repository:").append(ref.repository()).append(":pull");
        HttpResponse<byte[]> resp = http.send(HttpRequest.newBuilder(URI.create(realm + query)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        if (resp.statusCode() != 200) {
            throw new OciException("registry " + ref.registry() + " refused an anonymous token for " + ref.repository() + " (HTTP " + resp.statusCode() + "); the image may be private: configure credentials");
        }
        var node = Json.MAPPER.readTree(resp.body());
        String t = node.hasNonNull("token") ? node.get("token").asText() : node.path("access_token").asText(null);
        if (t == null) throw new OciException("registry " + ref.registry() + " token response had no token");
        return t;
    }

    private static void expectOk(Reference ref, HttpResponse<InputStream> resp, String what) {
        if (resp.statusCode() != 200 && resp.statusCode() != 206) {
            close(resp);
            throw status(ref, resp, what);
        }
    }

    private static OciException status(Reference ref, HttpResponse<InputStream> resp, String what) {
        return new OciException("registry " + ref.registry() + " answered HTTP " + resp.statusCode() + " for " + what + " of " + ref.repository());
    }

    private static OciException unreachable(Reference ref, IOException e) {
        String why = e instanceof ConnectException ? "connection refused"
                : e instanceof HttpConnectTimeoutException ? "connection timed out"
                : e instanceof HttpTimeoutException ? "request timed out"
                : String.valueOf(e.getMessage());
        return new OciException("cannot reach registry " + ref.registry() + ": " + why + "; check that it is running and the address is right", e);
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
