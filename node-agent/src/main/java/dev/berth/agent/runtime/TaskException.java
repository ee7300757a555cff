package dev.berth.agent.runtime;

import dev.berth.oci.OciException;

/** A task operation refused or failed, with a kind the API maps to its status codes. */
public class TaskException extends OciException {
    public enum Kind { NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID, FAILED }

    private final Kind kind;

    public TaskException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
