package dev.berth.cli;

import dev.berth.cli.rpc.Code;
import dev.berth.cli.rpc.RpcException;
import java.io.PrintStream;
import java.util.Arrays;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;

/**
 * {@code berth}: ctr- and docker-like verbs for one node agent. Reads the global options, finds the verb, parses only
 * that verb's options and runs it; every failure becomes one line on stderr and an exit code (1, 2 for a usage
 * mistake, 125 when the agent cannot be reached or a container could not be started).
 */
public final class Berth {

    static final String VERSION = "0.1.0";
    static final String DEFAULT_ADDRESS = "/run/berth/agent.sock";

    private Berth() {}

    public static void main(String[] args) {
        int code = run(args);
        System.out.flush();
        System.exit(code);
    }

    /** The agent's socket when no --address is given: BERTH_ADDRESS, else /run/berth/agent.sock. */
    static String defaultAddress() {
        return env("BERTH_ADDRESS", DEFAULT_ADDRESS);
    }

    static int run(String... args) {
        String address = defaultAddress();
        String namespace = env("BERTH_NAMESPACE", "default");
        int i = 0;
        // global options come before the verb (they are accepted after it too: see verbOptions)
        for (; i < args.length && args[i].startsWith("-"); i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                Help.berth(System.out);
                return 0;
            }
            if (a.equals("-V") || a.equals("--version")) {
                System.out.println("berth " + VERSION);
                return 0;
            }
            String[] opt = globalOption(args, i);
            if (opt == null) return usage(null, "unknown option '" + a + "'");
            if (opt[1] == null) return usage(null, "option '" + a + "' needs a value");
            if (opt[0].equals("address")) address = opt[1];
            else namespace = opt[1];
            if (!a.contains("=")) i++;
        }
        if (i == args.length) {
            Help.berth(System.err);
            return 2;
        }
        Verb verb = Verbs.find(args[i]);
        if (verb == null) return usage(null, "unknown command '" + args[i] + "'");
        String path = verb.name;
        i++;
        while (verb instanceof Verb.Group group) {
            if (i == args.length || args[i].equals("-h") || args[i].equals("--help")) {
                Help.group(group, i == args.length ? System.err : System.out);
                return i == args.length ? 2 : 0;
            }
            Verb sub = null;
            for (Verb v : group.verbs()) if (v.answersTo(args[i])) sub = v;
            if (sub == null) return usage(path, "unknown command '" + path + " " + args[i] + "'");
            path = path + " " + sub.name;
            verb = sub;
            i++;
        }
        return runVerb(verb, path, address, namespace, Arrays.copyOfRange(args, i, args.length));
    }

    private static int runVerb(Verb verb, String path, String address, String namespace, String[] args) {
        Options options = verbOptions(verb);
        CommandLine line;
        try {
            line = DefaultParser.builder().setAllowPartialMatching(false).get().parse(options, args, verb.optionsEndAtFirstOperand());
        } catch (ParseException e) {
            return usage(path, e.getMessage());
        }
        if (line.hasOption("help")) {
            Help.verb(verb, path, options, System.out);
            return 0;
        }
        // options end at the first operand, so an unknown option there would be taken for one: refuse it instead
        if (verb.optionsEndAtFirstOperand() && !line.getArgList().isEmpty()) {
            String first = line.getArgList().get(0);
            if (first.startsWith("-") && first.length() > 1) return usage(path, "Unrecognized option: " + first);
        }
        int n = line.getArgList().size();
        if (n < verb.minOperands) return usage(path, "'berth " + path + "' needs " + verb.operands);
        if (n > verb.maxOperands) return usage(path, "'berth " + path + "' takes " + verb.operands + ", not " + String.join(" ", line.getArgList()));
        if (line.hasOption("address")) address = line.getOptionValue("address");
        if (line.hasOption("namespace")) namespace = line.getOptionValue("namespace");
        try {
            return verb.run(new Args(address, namespace, line));
        } catch (Args.UsageException e) {
            return usage(path, e.getMessage());
        } catch (CliException e) {
            System.err.println("berth: " + e.getMessage());
            return e.exitCode;
        } catch (RpcException e) {
            System.err.println("berth: " + describe(e));
            return e.code() == Code.UNAVAILABLE ? 125 : 1;
        } catch (Exception e) {
            System.err.println("berth: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        }
    }

    /** The verb's own options and the global ones, which may also follow the verb. */
    private static Options verbOptions(Verb verb) {
        Options o = new Options();
        verb.options(o);
        o.addOption(Option.builder("h").longOpt("help").desc("Show this help.").get());
        o.addOption(Option.builder().longOpt("address").hasArg().argName("SOCKET").desc("The agent's unix socket (env BERTH_ADDRESS).").get());
        o.addOption(Option.builder("n").longOpt("namespace").hasArg().argName("NAMESPACE").desc("Namespace (env BERTH_NAMESPACE).").get());
        return o;
    }

    /** {name, value} of the global option at {@code args[i]}, value null when missing; null when not a global option. */
    private static String[] globalOption(String[] args, int i) {
        String a = args[i];
        String name;
        if (a.equals("--address") || a.startsWith("--address=")) name = "address";
        else if (a.equals("-n") || a.equals("--namespace") || a.startsWith("--namespace=")) name = "namespace";
        else return null;
        int eq = a.indexOf('=');
        if (eq >= 0) return new String[] {name, a.substring(eq + 1)};
        return new String[] {name, i + 1 < args.length ? args[i + 1] : null};
    }

    private static int usage(String path, String message) {
        PrintStream err = System.err;
        err.println("berth: " + message);
        err.println(path == null ? "See 'berth --help'." : "See 'berth " + path + " --help'.");
        return 2;
    }

    private static String env(String name, String otherwise) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? otherwise : v;
    }

    static String describe(RpcException e) {
        if (e.code() == Code.UNAVAILABLE) {
            return "the node agent is unavailable (" + e.description() + "); is it running?";
        }
        return e.description() != null ? e.description() : e.code().name().toLowerCase();
    }
}
