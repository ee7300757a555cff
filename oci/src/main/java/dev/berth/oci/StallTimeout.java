package dev.berth.oci;

import java.time.Duration;

/**
 * How long a registry may send nothing in the middle of a response before the request fails: a progress deadline,
 * not a total one (a slow transfer goes on as long as bytes arrive; a silent one ends). {@code setting} names where
 * an operator changes it, so that the error can say so.
 */
public record StallTimeout(Duration limit, String setting) {

    /** Kubelet's image-pull-progress-deadline default. */
    public static final StallTimeout DEFAULT = new StallTimeout(Duration.ofMinutes(1), "the registry client's stall timeout");

    public StallTimeout {
        if (limit.isNegative() || limit.isZero()) throw new IllegalArgumentException(setting + " must be positive, not " + limit);
    }
}
