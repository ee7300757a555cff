package dev.berth.cli;

import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;

/** A verb's parsed command line, with the agent it is for; values checked as they are read, errors naming the option. */
final class Args {
    final String address;
    final String namespace;
    private final CommandLine line;

    Args(String address, String namespace, CommandLine line) {
        this.address = address;
        this.namespace = namespace;
        this.line = line;
    }

    AgentClient connect() {
        return new AgentClient(address, namespace);
    }

    boolean flag(String longName) {
        return line.hasOption(longName);
    }

    /** The option's value, or null when not given. */
    String value(String longName) {
        return line.getOptionValue(longName);
    }

    String value(String longName, String otherwise) {
        String v = line.getOptionValue(longName);
        return v == null ? otherwise : v;
    }

    /** Every value of an option given several times, in order; empty when not given. */
    List<String> values(String longName) {
        String[] v = line.getOptionValues(longName);
        List<String> list = new ArrayList<>();
        if (v != null) for (String s : v) list.add(s);
        return list;
    }

    Long longValue(String longName) {
        String v = value(longName);
        if (v == null) return null;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + longName + " '" + v + "' is not a whole number");
        }
    }

    int intValue(String longName, int otherwise) {
        Long v = longValue(longName);
        if (v == null) return otherwise;
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new UsageException("--" + longName + " " + v + " is out of range");
        return v.intValue();
    }

    Double doubleValue(String longName) {
        String v = value(longName);
        if (v == null) return null;
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + longName + " '" + v + "' is not a number");
        }
    }

    /** The operands (what is not an option), in order. */
    List<String> operands() {
        return line.getArgList();
    }

    String operand(int i) {
        return line.getArgList().get(i);
    }

    /** A mistake in how the command was typed: reported with a pointer to the verb's help, exit code 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
