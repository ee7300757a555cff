package dev.berth.schedulerapi.rest;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.UUID;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every error leaves the API as application/problem+json; an unexpected one gets an id to find it in the log. */
public class ProblemMappers {
    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response api(ApiException e, UriInfo uri) {
        return problem(new Problem("urn:berth:problem:" + e.kind(), e.title(), e.status(), e.getMessage(), uri.getPath()));
    }

    @ServerExceptionMapper
    public Response http(WebApplicationException e, UriInfo uri) {
        Response.StatusType status = e.getResponse().getStatusInfo();
        String detail = e.getMessage();
        if (detail == null || detail.startsWith("HTTP " + status.getStatusCode())) { // the framework's default says nothing new
            detail = status.getStatusCode() == 404
                    ? "nothing at " + uri.getPath() + "; see the API's OpenAPI document for its paths"
                    : null;
        }
        return problem(new Problem("about:blank", status.getReasonPhrase(), status.getStatusCode(), detail, uri.getPath()));
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e, UriInfo uri) {
        String id = UUID.randomUUID().toString();
        LOG.errorf(e, "error %s answering %s", id, uri.getPath());
        return problem(new Problem("about:blank", "Internal Server Error", 500,
                "the server failed to answer; report error id " + id, uri.getPath()));
    }

    private static Response problem(Problem p) {
        return Response.status(p.status()).type(Problem.MEDIA_TYPE).entity(p).build();
    }
}
