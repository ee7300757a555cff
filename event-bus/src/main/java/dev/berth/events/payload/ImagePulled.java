package dev.berth.events.payload;

/**
 * {@code image.pulled}: an image is in the node's content store and ready to unpack.
 *
 * @param reference the name it was pulled by, e.g. {@code registry.local/app:1.2}
 * @param digest    the manifest digest it resolved to ({@code sha256:...})
 * @param sizeBytes bytes of blobs fetched for this pull (0 when all were cached); optional
 */
public record ImagePulled(String reference, String digest, Long sizeBytes) {
    public ImagePulled {
        Require.text(reference, "reference");
        Require.text(digest, "digest");
    }
}
