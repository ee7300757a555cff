package dev.berth.events.payload;

import java.util.Map;

/**
 * {@code container.created}: the bundle and the writable snapshot exist; the process does not yet.
 *
 * @param image       the image reference the container was created from
 * @param imageDigest the manifest digest of that image; optional
 * @param labels      the user's labels; optional
 */
public record ContainerCreated(String image, String imageDigest, Map<String, String> labels) {
    public ContainerCreated {
        Require.text(image, "image");
        labels = labels == null ? null : Map.copyOf(labels);
    }
}
