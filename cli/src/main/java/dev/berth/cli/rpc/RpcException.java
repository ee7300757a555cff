package dev.berth.cli.rpc;

import java.util.Locale;

/** A call that ended with a status other than OK: the server's code and message (grpc-message, percent-decoded). */
public final class RpcException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final Code code;
    private final String description;

    public RpcException(Code code, String description) {
        this(code, description, null);
    }

    public RpcException(Code code, String description, Throwable cause) {
        super(description != null ? description : code.name().toLowerCase(Locale.ROOT), cause);
        this.code = code;
        this.description = description;
    }

    public Code code() {
        return code;
    }

    /** The status message, or null when the call ended without one. */
    public String description() {
        return description;
    }
}
