package dev.berth.cli;

import com.google.protobuf.Empty;
import dev.berth.api.services.version.v1.VersionResponse;

/** {@code berth version}: the client's version and the node agent's, as {@code ctr version} prints them. */
final class VersionCommand extends Verb {
    VersionCommand() {
        super("version", "", 0, 0, "Print the client's and the node agent's versions.");
    }

    @Override
    int run(Args a) {
        System.out.println("Client:");
        System.out.println("  Version:  " + Berth.VERSION);
        System.out.println("  Java:     " + System.getProperty("java.vm.version") + " (" + System.getProperty("java.vm.vendor") + ")");
        System.out.println();
        try (AgentClient c = a.connect()) {
            VersionResponse v = c.call(Rpcs.Version.VERSION, Empty.getDefaultInstance());
            System.out.println("Server:");
            System.out.println("  Version:  " + v.getVersion());
            System.out.println("  Revision: " + v.getRevision());
            System.out.println("  Socket:   " + a.address);
            return 0;
        }
    }
}
