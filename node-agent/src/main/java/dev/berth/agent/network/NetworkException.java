package dev.berth.agent.network;

import dev.berth.oci.OciException;

/** A container network that could not be set up: plugins missing, a plugin's own error, a port already taken. */
public class NetworkException extends OciException {
    public NetworkException(String message) {
        super(message);
    }
}
