package dev.berth.agent.unpack;

/**
 * What an image's layers may make the agent do, each bound with the setting that raises it: the size of one tar
 * header record (read whole into memory), the entries of one layer (each remembered while it unpacks), the bytes
 * one layer and one image write into files (counting a sparse file's full size, so a layer of a few bytes cannot
 * write a terabyte of zeros), and the free disk the node keeps for everything else.
 */
public record UnpackLimits(long maxHeaderBytes, long maxLayerEntries, long maxLayerBytes, long maxImageBytes, long minFreeDiskBytes) {
    public static final String MAX_HEADER_SETTING = "berth.agent.max-tar-header-bytes";
    public static final String MAX_ENTRIES_SETTING = "berth.agent.max-layer-entries";
    public static final String MAX_LAYER_SETTING = "berth.agent.max-layer-bytes";
    public static final String MAX_IMAGE_SETTING = "berth.agent.max-image-bytes";
    public static final String MIN_FREE_SETTING = "berth.agent.min-free-disk-bytes";

    /** The defaults application.properties gives. */
    public static final UnpackLimits DEFAULT = new UnpackLimits(1L << 20, 1_000_000, 64L << 30, 128L << 30, 1L << 30);

    public UnpackLimits {
        if (maxHeaderBytes < 512 || maxLayerEntries < 1 || maxLayerBytes < 1 || maxImageBytes < 1 || minFreeDiskBytes < 0) {
            throw new IllegalArgumentException("unpack bounds must be positive (" + MAX_HEADER_SETTING + " at least 512)");
        }
    }
}
