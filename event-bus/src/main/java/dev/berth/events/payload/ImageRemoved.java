package dev.berth.events.payload;

/** {@code image.removed}: the node no longer has this image (its blobs may be collected later). */
public record ImageRemoved(String reference, String digest) {
    public ImageRemoved {
        Require.text(digest, "digest");
    }
}
