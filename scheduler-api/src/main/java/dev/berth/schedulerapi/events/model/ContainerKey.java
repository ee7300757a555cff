package dev.berth.schedulerapi.events.model;

import java.io.Serializable;

/** The key of a container's observed state: container ids are unique within a namespace of one node. */
public record ContainerKey(String namespace, String containerId, String node) implements Serializable {}
