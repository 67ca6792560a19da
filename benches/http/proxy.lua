-- GET /proxy/internal-api/...: the reverse proxy, same pipeline as /v1/actions.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AXTARY_TOKEN")
