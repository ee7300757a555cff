package dev.berth.schedulerapi.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** Knobs of the event projection and stream ({@code berth.events.*}); defaults documented in application.properties. */
@ConfigMapping(prefix = "berth.events")
public interface EventsConfig {

    /** Create Berth's topics at start when they are missing (with {@link #topicPartitions()} partitions). */
    @WithDefault("true")
    boolean createTopics();

    @WithDefault("3")
    int topicPartitions();

    /** First wait before retrying a projection whose database transaction failed; doubles up to {@link #retryMaxBackoff()}. */
    @WithDefault("200ms")
    Duration retryInitialBackoff();

    @WithDefault("5s")
    Duration retryMaxBackoff();

    /**
     * Events buffered per live-stream subscriber before a slow one is cut off (it reconnects and catches up by
     * paging the listing with continue=).
     */
    @WithDefault("1024")
    int streamBuffer();

    /** Most events one page of a listing (the event feed, a container timeline) holds. */
    @WithDefault("1000")
    int maxListLimit();

    /** How often agents record node.heartbeat: their {@code berth.agent.heartbeat-interval}. */
    @WithDefault("30s")
    Duration nodeHeartbeatInterval();

    /** Heartbeat intervals an up node may stay silent before it is shown stale (not ready). */
    @WithDefault("3")
    int nodeMissedHeartbeats();

    /** Most a subject's sequence may move past the last one applied, within one incarnation; beyond it the event is poison. */
    @WithDefault("1000000")
    long maxSequenceJump();

    /** How far past this server's clock an event's incarnation (its agent store's creation time) may be; beyond it, poison. */
    @WithDefault("1d")
    Duration maxIncarnationAhead();
}
