package dev.berth.oci;

import dev.berth.oci.RegistryClient.Endpoint;
import dev.berth.oci.auth.RegistryCredentials;
import dev.berth.oci.auth.RegistryHostName;
import dev.berth.oci.auth.RegistryHosts;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * What went wrong talking to a registry, said as what to do about it: refused or missing credentials (and where
 * they are configured), an unreachable registry, a TLS handshake that failed (usually a CA to trust), an HTTP status.
 */
final class RegistryFailures {

    private final RegistryHosts hosts;
    private final RegistryCredentials credentials;

    RegistryFailures(RegistryHosts hosts, RegistryCredentials credentials) {
        this.hosts = hosts;
        this.credentials = credentials;
    }


    OciException refused(Endpoint ep, Reference ref, int status) {
        return new OciException("registry " + ep.label() + " refused the credentials for " + ref.repository() + " (HTTP " + status
                + "): check the credentials file (" + credentials.source() + ")");
    }

    OciException requiresAuthentication(Endpoint ep, Reference ref) {
        return new OciException("registry " + ep.label() + " requires authentication for " + ref.repository()
                + "; configure credentials for it in the credentials file" + helperHint(ep));
    }

    /** Where a credential helper is named for the registry: that Berth does not run helpers. */
    String helperHint(Endpoint ep) {
        return credentials.keptInHelper(ep.credentialKey())
                ? " (" + credentials.source() + " names a Docker credential helper for it, which Berth does not run: put the credentials in the file)"
                : "";
    }


    static OciException status(Endpoint ep, Reference ref, HttpResponse<InputStream> resp, String what) {
        return new OciException("registry " + ep.label() + " answered HTTP " + resp.statusCode() + " for " + what + " of " + ref.repository());
    }

    OciException unreachable(Endpoint ep, IOException e) {
        if (e instanceof RegistryStalledException) return new OciException(e.getMessage(), e);
        if (causes(e, SSLException.class) != null) return tlsFailure(ep, e);
        String why = e instanceof ConnectException ? "connection refused"
                : e instanceof HttpConnectTimeoutException ? "connection timed out"
                : e instanceof HttpTimeoutException ? "request timed out"
                : String.valueOf(e.getMessage());
        return new OciException("cannot reach registry " + ep.label() + ": " + why + "; check that it is running and the address is right", e);
    }

    /** A TLS handshake that failed, said as what to do: usually a CA to trust. The JDK's wording stays in the cause. */
    private OciException tlsFailure(Endpoint ep, IOException e) {
        String host = RegistryHostName.canonical(ep.authority());
        Optional<RegistryHosts.CaFile> ca = hosts.ca(ep.authority());
        String registry = "registry " + ep.label();
        CertPathValidatorException invalid = causes(e, CertPathValidatorException.class);
        if (causes(e, CertificateExpiredException.class) != null || causes(e, CertificateNotYetValidException.class) != null
                || invalid != null && (invalid.getReason() == CertPathValidatorException.BasicReason.EXPIRED
                || invalid.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID)) {
            return new OciException(registry + " presented a TLS certificate that has expired or is not yet valid: renew the registry's certificate"
                    + " (or check this machine's clock)", e);
        }
        if (causes(e, CertPathBuilderException.class) != null || invalid != null) {
            if (ca.isPresent()) {
                return new OciException(registry + " presented a TLS certificate that is not trusted: neither the system trust store nor its CA file "
                        + ca.get().file() + " holds the CA that issued it; put that CA's certificate in the file", e);
            }
            return new OciException(registry + " presented a TLS certificate that is not trusted: no CA in the system trust store issued it."
                    + " Add the CA that did to the system trust store (the JDK's cacerts, or the store named by javax.net.ssl.trustStore),"
                    + " or give this registry its own CA file in the registry hosts file (" + hosts.source() + "): \"ca\": {\"" + host
                    + "\": \"/path/to/ca.pem\"}", e);
        }
        CertificateException refused = causes(e, CertificateException.class);
        if (refused != null) {
            // e.g. the certificate names another host: the JDK's own sentence says which
            return new OciException(registry + " presented a TLS certificate that was refused: " + refused.getMessage(), e);
        }
        String why = String.valueOf(causes(e, SSLException.class).getMessage());
        if (why.contains("Unsupported or unrecognized SSL message")) {
            return new OciException(registry + " does not speak TLS on " + ep.base() + ": if it is a plain-HTTP registry on a private network,"
                    + " declare it in \"insecure\" in the registry hosts file (" + hosts.source() + ")", e);
        }
        return new OciException("TLS handshake with " + registry + " failed: " + why, e);
    }

    /** The first throwable of type {@code type} in {@code e}'s cause chain, or null. */
    private static <T extends Throwable> T causes(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) return type.cast(t);
        }
        return null;
    }
}
