-- POST /v1/decide with an action the starter policy allows (every decision is recorded).
wrk.method = "POST"
wrk.body = '{"agent":"bench","connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","text":"hello from wrk"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AXTARY_TOKEN")
