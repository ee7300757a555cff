package dev.berth.cli;

import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * One verb of the command line ({@code ps}, {@code run}, {@code images ls}): its name, what it does, its options and
 * operands, and what it runs. Only the verb a user typed has its options built, so a command pays for itself alone.
 */
abstract class Verb {
    /** No upper bound on the operands. */
    static final int ANY = Integer.MAX_VALUE;

    final String name;
    final String operands;
    final int minOperands;
    final int maxOperands;
    final String summary;
    final String[] aliases;

    /**
     * @param operands the operands' synopsis for the usage line, e.g. {@code "IMAGE [COMMAND] [ARG...]"}
     * @param minOperands the fewest operands it needs; {@code maxOperands} the most it takes ({@link #ANY}: no limit)
     */
    Verb(String name, String operands, int minOperands, int maxOperands, String summary, String... aliases) {
        this.name = name;
        this.operands = operands;
        this.minOperands = minOperands;
        this.maxOperands = maxOperands;
        this.summary = summary;
        this.aliases = aliases;
    }

    /** Adds this verb's options; none by default. */
    void options(Options o) {
    }

    /** Whether options end at the first operand: in {@code run IMAGE sh -c x} the {@code -c} is the container's. */
    boolean optionsEndAtFirstOperand() {
        return false;
    }

    /** Runs the verb; its exit code. */
    abstract int run(Args a) throws Exception;

    boolean answersTo(String word) {
        if (name.equals(word)) return true;
        for (String alias : aliases) if (alias.equals(word)) return true;
        return false;
    }

    static Option flag(String shortName, String longName, String description) {
        return Option.builder(shortName).longOpt(longName).desc(description).get();
    }

    static Option value(String shortName, String longName, String argName, String description) {
        return Option.builder(shortName).longOpt(longName).hasArg().argName(argName).desc(description).get();
    }

    /** An option that may be given several times, each time one value. */
    static Option repeated(String shortName, String longName, String argName, String description) {
        return Option.builder(shortName).longOpt(longName).hasArg().argName(argName).desc(description).get();
    }

    /** A verb with verbs of its own ({@code images pull}, {@code snapshots ls}). */
    abstract static class Group extends Verb {
        Group(String name, String summary, String... aliases) {
            super(name, "COMMAND", 1, ANY, summary, aliases);
        }

        /** Its verbs, newly made. */
        abstract Verb[] verbs();

        @Override
        int run(Args a) {
            throw new IllegalStateException(name + " is run through one of its verbs");
        }
    }
}
