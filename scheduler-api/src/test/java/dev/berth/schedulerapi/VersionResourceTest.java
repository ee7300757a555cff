package dev.berth.schedulerapi;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

@QuarkusTest
class VersionResourceTest {
    @Test
    void servesItsVersionAndHealth() {
        given().get("/api/v1/version").then().statusCode(200).body("api", equalTo("v1"));
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    }
}
