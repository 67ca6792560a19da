-- POST /v1/actions: the whole pipeline (decide, pass, durable ledger, http connector against
-- the local upstream, outcome). The starter policy allows GET on `internal-api`.
wrk.method = "POST"
wrk.body = '{"agent":"bench","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"GET","path":"/v1/customers/7"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AXTARY_TOKEN")
