package dev.berth.oci;

import java.io.IOException;

/** A registry that stopped sending in the middle of a response for longer than the {@link StallTimeout}. */
public final class RegistryStalledException extends IOException {
    public RegistryStalledException(String message) {
        super(message);
    }
}
