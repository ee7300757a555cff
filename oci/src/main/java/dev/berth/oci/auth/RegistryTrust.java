package dev.berth.oci.auth;

import dev.berth.oci.OciException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The certificates a registry's TLS certificate may chain to: the system trust store, as the JDK sees it (its
 * {@code cacerts}, or the store named by {@code javax.net.ssl.trustStore}), plus CA files configured for that
 * registry, as containerd's {@code hosts.toml} {@code ca} and Docker's {@code certs.d/<host>/ca.crt}.
 */
public final class RegistryTrust {

    private static final String PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";

    private RegistryTrust() {}

    /** The certificates of a PEM file (one or more {@code CERTIFICATE} blocks); anything else is an error naming the file. */
    public static List<X509Certificate> readCaFile(Path file, String what) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new OciException("CA file " + file + " " + what + " does not exist");
        } catch (IOException e) {
            throw new OciException("cannot read CA file " + file + " " + what + ": " + e.getClass().getSimpleName(), e);
        }
        if (!new String(bytes, StandardCharsets.US_ASCII).contains(PEM_CERTIFICATE)) {
            throw new OciException("CA file " + file + " " + what + " is not a PEM certificate file (no \"" + PEM_CERTIFICATE + "\" in it)");
        }
        List<X509Certificate> out = new ArrayList<>();
        try {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes))) {
                if (c instanceof X509Certificate x) out.add(x);
            }
        } catch (CertificateException e) {
            throw new OciException("CA file " + file + " " + what + " holds a PEM certificate that cannot be parsed");
        }
        if (out.isEmpty()) throw new OciException("CA file " + file + " " + what + " holds no X.509 certificate");
        return List.copyOf(out);
    }

    /**
     * A TLS context that trusts the system trust store and, besides it, {@code extra}. The system store is read
     * now, through the default {@link TrustManagerFactory} with no key store, exactly as the JDK's default context does.
     */
    public static SSLContext withSystemTrust(List<X509Certificate> extra) {
        try {
            KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
            anchors.load(null, null);
            int n = 0;
            for (X509Certificate c : systemTrustManager().getAcceptedIssuers()) anchors.setCertificateEntry("system-" + n++, c);
            for (X509Certificate c : extra) anchors.setCertificateEntry("registry-ca-" + n++, c);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(anchors);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new OciException("cannot set up TLS trust (system trust store plus registry CA files): " + e.getMessage(), e);
        }
    }

    private static X509TrustManager systemTrustManager() throws GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init((KeyStore) null);
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509TrustManager x) return x;
        }
        throw new GeneralSecurityException("the default TrustManagerFactory has no X509TrustManager");
    }
}
