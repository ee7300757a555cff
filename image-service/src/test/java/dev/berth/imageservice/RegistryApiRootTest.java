package dev.berth.imageservice;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

@QuarkusTest
class RegistryApiRootTest {
    @Test
    void speaksDistributionV2AndIsHealthy() {
        given().get("/v2/").then().statusCode(200).header("Docker-Distribution-API-Version", "registry/2.0");
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
    }
}
