package dev.berth.cli;

/** An error for the user: printed as one line, the command exits non-zero. */
final class CliException extends RuntimeException {
    final int exitCode;

    CliException(String message) {
        this(message, 1);
    }

    CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }
}
