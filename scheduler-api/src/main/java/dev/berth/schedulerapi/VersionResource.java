package dev.berth.schedulerapi;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;

/** What this control plane is: clients check the API version before they use it. */
@Path("/api/v1/version")
public class VersionResource {
    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, String> version() {
        return Map.of("api", "v1", "service", "scheduler-api");
    }
}
