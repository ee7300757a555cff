package dev.berth.agent.unpack;

import dev.berth.oci.OciException;

/** A layer that tried to reach outside its snapshot, or is otherwise not a layer Berth will unpack. */
public class UnsafeLayerException extends OciException {
    public UnsafeLayerException(String message) {
        super("unsafe layer refused: " + message);
    }
}
