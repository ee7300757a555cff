package dev.berth.schedulerapi.rest;

/**
 * An error the API reports to its client on purpose: an HTTP status, a short kind ({@code not-found},
 * {@code invalid-parameter}...) that becomes the problem type, and a detail that says what to do about it.
 */
public class ApiException extends RuntimeException {
    private final int status;
    private final String kind;
    private final String title;

    public ApiException(int status, String kind, String title, String detail) {
        super(detail);
        this.status = status;
        this.kind = kind;
        this.title = title;
    }

    public static ApiException notFound(String detail) {
        return new ApiException(404, "not-found", "Not found", detail);
    }

    public static ApiException invalidParameter(String detail) {
        return new ApiException(400, "invalid-parameter", "Invalid parameter", detail);
    }

    public static ApiException conflict(String detail) {
        return new ApiException(409, "ambiguous", "Ambiguous request", detail);
    }

    public int status() {
        return status;
    }

    public String kind() {
        return kind;
    }

    public String title() {
        return title;
    }
}
