package dev.berth.cli;

import java.io.PrintStream;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** The help texts: berth's verbs, a group's verbs, a verb's usage and options. */
final class Help {
    private Help() {}

    static void berth(PrintStream out) {
        out.println("Usage: berth [--address SOCKET] [-n NAMESPACE] COMMAND [ARG...]");
        out.println("Run containers on a Berth node agent.");
        out.println();
        out.println("Commands:");
        verbs(Verbs.all(), out);
        out.println();
        out.println("Options:");
        out.println("      --address SOCKET       The agent's unix socket (env BERTH_ADDRESS; default " + Berth.DEFAULT_ADDRESS + ").");
        out.println("  -n, --namespace NAMESPACE  Namespace (env BERTH_NAMESPACE; default default).");
        out.println("  -h, --help                 Show this help.");
        out.println("  -V, --version              Print the version.");
        out.println();
        out.println("Run 'berth COMMAND --help' for a command's options.");
    }

    static void group(Verb.Group group, PrintStream out) {
        out.println("Usage: berth " + group.name + " COMMAND [ARG...]");
        out.println(group.summary);
        out.println();
        out.println("Commands:");
        verbs(group.verbs(), out);
        out.println();
        out.println("Run 'berth " + group.name + " COMMAND --help' for a command's options.");
    }

    static void verb(Verb verb, String path, Options options, PrintStream out) {
        out.println("Usage: berth " + path + (options.getOptions().size() > 3 ? " [OPTIONS]" : "") + (verb.operands.isEmpty() ? "" : " " + verb.operands));
        out.println(verb.summary);
        out.println();
        out.println("Options:");
        int width = 0;
        for (Option o : options.getOptions()) width = Math.max(width, label(o).length());
        for (Option o : options.getOptions()) {
            String l = label(o);
            out.println("  " + l + " ".repeat(width - l.length() + 2) + (o.getDescription() == null ? "" : o.getDescription()));
        }
    }

    private static void verbs(Verb[] verbs, PrintStream out) {
        int width = 0;
        for (Verb v : verbs) width = Math.max(width, v.name.length());
        for (Verb v : verbs) out.println("  " + v.name + " ".repeat(width - v.name.length() + 3) + v.summary);
    }

    private static String label(Option o) {
        String s = (o.getOpt() != null ? "-" + o.getOpt() + ", " : "    ") + "--" + o.getLongOpt();
        return o.hasArg() ? s + " " + o.getArgName() : s;
    }
}
