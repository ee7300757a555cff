package dev.berth.oci;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** An image index (OCI) or manifest list (Docker): one manifest per platform. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Index(
        int schemaVersion,
        String mediaType,
        List<Descriptor> manifests,
        Map<String, String> annotations) {
}
