package dev.berth.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code berth}: ctr- and docker-like verbs for one node agent. */
@Command(name = "berth", mixinStandardHelpOptions = true, version = "berth 0.1.0",
        description = "Run containers on a Berth node agent.",
        subcommands = {ImagesCommand.class, RunCommand.class, ContainerCommands.Ps.class, ContainerCommands.Logs.class,
                ContainerCommands.Start.class, ContainerCommands.Stop.class, ContainerCommands.Restart.class, ContainerCommands.Wait.class,
                ContainerCommands.Rm.class,
                TaskCommands.Exec.class, TaskCommands.Attach.class, TaskCommands.Kill.class, TaskCommands.Pause.class,
                TaskCommands.Unpause.class, TaskCommands.Top.class, TaskCommands.Stats.class, TaskCommands.Update.class, StoreCommands.Snapshots.class, StoreCommands.Content.class})
public final class Berth {

    @Option(names = "--address", scope = ScopeType.INHERIT, description = "The agent's unix socket (env BERTH_ADDRESS).",
            defaultValue = "${env:BERTH_ADDRESS:-/run/berth/agent.sock}")
    String address;

    @Option(names = {"-n", "--namespace"}, scope = ScopeType.INHERIT, description = "Namespace (env BERTH_NAMESPACE).",
            defaultValue = "${env:BERTH_NAMESPACE:-default}")
    String namespace;

    AgentClient connect() {
        return new AgentClient(address, namespace);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Held so the setting sticks: netty warns about socket options a unix socket has no use for. */
    private static final java.util.logging.Logger NETTY_LOG = java.util.logging.Logger.getLogger("io.netty");

    static int run(String... args) {
        NETTY_LOG.setLevel(java.util.logging.Level.SEVERE);
        CommandLine cli = new CommandLine(new Berth());
        // everything after the image is the container's command, options included (berth run IMG sh -c '...')
        cli.setStopAtPositional(true);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof CliException c) {
                err.println("berth: " + c.getMessage());
                return c.exitCode;
            }
            if (ex instanceof StatusRuntimeException s) {
                err.println("berth: " + describe(s));
                return s.getStatus().getCode() == Status.Code.UNAVAILABLE ? 125 : 1;
            }
            throw ex;
        });
        return cli.execute(args);
    }

    static String describe(StatusRuntimeException s) {
        Status st = s.getStatus();
        if (st.getCode() == Status.Code.UNAVAILABLE) {
            return "the node agent is unavailable (" + st.getDescription() + "); is it running?";
        }
        return st.getDescription() != null ? st.getDescription() : st.getCode().toString().toLowerCase();
    }
}
