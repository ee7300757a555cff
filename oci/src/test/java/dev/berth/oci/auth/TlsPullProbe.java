package dev.berth.oci.auth;

import dev.berth.oci.OciException;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.nio.file.Path;

/**
 * Pulls an image in a JVM of its own, with the registry client built as the node agent builds it (the default
 * HTTP client, a hosts file if given): so that the JVM's own trust store settings are what a test varies.
 * Prints {@code pulled DIGEST}, or {@code failed: MESSAGE} and exits 3.
 */
public final class TlsPullProbe {

    private TlsPullProbe() {}

    /** {@code TlsPullProbe REFERENCE [HOSTS_FILE]} */
    public static void main(String[] args) {
        RegistryHosts hosts = args.length > 1 ? RegistryHosts.load(Path.of(args[1])) : RegistryHosts.none();
        try {
            RegistryClient client = new RegistryClient(hosts, RegistryCredentials.none());
            System.out.println("pulled " + Images.pullAll(client, Reference.parse(args[0])).target().digest());
        } catch (OciException e) {
            System.out.println("failed: " + e.getMessage());
            System.exit(3);
        }
    }
}
