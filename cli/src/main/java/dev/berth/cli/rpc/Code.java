package dev.berth.cli.rpc;

/** gRPC status codes, in the order of their numeric values (0 OK .. 16 UNAUTHENTICATED). */
public enum Code {
    OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
    RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS,
    UNAUTHENTICATED;

    private static final Code[] BY_VALUE = values();

    /** The code with this numeric value; a value gRPC does not define is UNKNOWN, as the spec asks. */
    public static Code of(int value) {
        return value >= 0 && value < BY_VALUE.length ? BY_VALUE[value] : UNKNOWN;
    }

    /** The numeric value on the wire (grpc-status). */
    public int value() {
        return ordinal();
    }
}
