package dev.berth.oci.auth;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throwaway certificate authority made with the JDK's keytool, valid for two days: its certificate as PEM, and
 * server certificates it issues, as the PEM certificate and key a registry serves HTTPS with.
 */
final class TestCa {

    private static final String PASSWORD = "throwaway";
    private static final Path KEYTOOL = Path.of(System.getProperty("java.home"), "bin", "keytool");

    private final Path dir;
    private final Path keystore;
    final Path certificate;

    private TestCa(Path dir) {
        this.dir = dir;
        this.keystore = dir.resolve("ca.p12");
        this.certificate = dir.resolve("ca.pem");
    }

    /** A new CA named {@code name}, its files under {@code dir}. */
    static TestCa create(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        TestCa ca = new TestCa(dir);
        keytool("-genkeypair", "-keystore", ca.keystore.toString(), "-storepass", PASSWORD, "-alias", "ca",
                "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2", "-dname", "CN=" + name,
                "-ext", "bc:c=ca:true", "-ext", "ku:c=keyCertSign,cRLSign");
        keytool("-exportcert", "-rfc", "-keystore", ca.keystore.toString(), "-storepass", PASSWORD, "-alias", "ca",
                "-file", ca.certificate.toString());
        return ca;
    }

    /** A server certificate for these DNS names and IP addresses, and its private key. */
    record Issued(Path certificate, Path key) {
    }

    Issued issue(String name, List<String> dnsNames, List<String> ips) throws IOException {
        Path server = dir.resolve(name + ".p12");
        Path csr = dir.resolve(name + ".csr");
        Path cert = dir.resolve(name + ".pem");
        keytool("-genkeypair", "-keystore", server.toString(), "-storepass", PASSWORD, "-alias", "server",
                "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2", "-dname", "CN=" + dnsNames.get(0));
        keytool("-certreq", "-keystore", server.toString(), "-storepass", PASSWORD, "-alias", "server", "-file", csr.toString());
        List<String> san = new ArrayList<>();
        dnsNames.forEach(d -> san.add("dns:" + d));
        ips.forEach(ip -> san.add("ip:" + ip));
        keytool("-gencert", "-rfc", "-keystore", keystore.toString(), "-storepass", PASSWORD, "-alias", "ca",
                "-infile", csr.toString(), "-outfile", cert.toString(), "-validity", "2",
                "-ext", "san=" + String.join(",", san), "-ext", "eku=serverAuth");
        // keytool cannot export a private key: PKCS#8 from the key store, as PEM, is what the registry reads
        Path key = dir.resolve(name + ".key");
        try (InputStream in = Files.newInputStream(server)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, PASSWORD.toCharArray());
            byte[] der = ks.getKey("server", PASSWORD.toCharArray()).getEncoded();
            Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                    + "\n-----END PRIVATE KEY-----\n");
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the key keytool made", e);
        }
        return new Issued(cert, key);
    }

    X509Certificate x509() throws IOException {
        try (InputStream in = Files.newInputStream(certificate)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    /** A PKCS#12 trust store holding only this CA, for {@code javax.net.ssl.trustStore}; its password is {@link #storePassword()}. */
    Path trustStore() throws IOException {
        Path store = dir.resolve("truststore.p12");
        try (OutputStream out = Files.newOutputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("berth-test-ca", x509());
            ks.store(out, PASSWORD.toCharArray());
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
        return store;
    }

    static String storePassword() {
        return PASSWORD;
    }

    /** A TLS context that trusts this CA and nothing else: for a test's own set-up, apart from the code under test. */
    SSLContext trustingOnlyThis() throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("berth-test-ca", x509());
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static void keytool(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(KEYTOOL.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) throw new IOException("keytool " + args[0] + " failed: " + out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for keytool", e);
        }
    }
}
