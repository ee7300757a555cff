package dev.berth.oci;

/** A failure with content from a registry or a store, worded for the user: what went wrong and what to do. */
public class OciException extends RuntimeException {
    public OciException(String message) {
        super(message);
    }

    public OciException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The registry (or store) has no such image, manifest or blob. */
    public static final class NotFound extends OciException {
        public NotFound(String message) {
            super(message);
        }
    }
}
