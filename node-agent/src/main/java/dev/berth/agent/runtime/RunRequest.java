package dev.berth.agent.runtime;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What a user asks of a container beyond its image: Berth's clients send it with the container (as the
 * {@code berth.dev/run} extension) and the agent turns image config plus request into the OCI runtime spec.
 * Null fields mean "as the image says".
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record RunRequest(
        List<String> entrypoint,
        List<String> args,
        List<String> env,
        String workingDir,
        String user,
        String hostname,
        Boolean readOnlyRootfs,
        String network) {

    public static final String EXTENSION = "berth.dev/run";
    public static final String TYPE_URL = "types.berth.dev/RunRequest/v1";
}
