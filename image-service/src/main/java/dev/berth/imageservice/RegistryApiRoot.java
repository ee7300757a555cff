package dev.berth.imageservice;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;

/** The distribution API's base endpoint: clients probe it to learn that a registry speaks v2. */
@Path("/v2")
public class RegistryApiRoot {
    @GET
    public Response probe() {
        return Response.ok("{}").type("application/json").header("Docker-Distribution-API-Version", "registry/2.0").build();
    }
}
