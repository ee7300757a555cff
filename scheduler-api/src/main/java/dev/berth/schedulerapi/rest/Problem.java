package dev.berth.schedulerapi.rest;

import com.fasterxml.jackson.annotation.JsonInclude;

/** An error as RFC 9457 problem details ({@code application/problem+json}). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(String type, String title, int status, String detail, String instance) {
    public static final String MEDIA_TYPE = "application/problem+json";
}
