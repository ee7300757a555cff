package dev.berth.agent.image;

import dev.berth.oci.Descriptor;

/** Hears how a pull goes, layer by layer; called from several threads. */
public interface PullListener {

    enum Phase { WAITING, DOWNLOADING, DOWNLOADED, UNPACKING, DONE, EXISTS }

    void layer(Descriptor layer, Phase phase, long current, long total);

    PullListener NONE = (layer, phase, current, total) -> { };
}
