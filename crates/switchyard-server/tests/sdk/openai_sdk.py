"""Drives Switchyard with OpenAI's own Python SDK (run by the `gateway::sdk` test, which starts
the server and the fake upstream and scripts the fake's answers in the order of the calls below).

Every check prints one line; any failure exits non-zero with the reason.
"""

import base64
import json
import math
import os
import struct
import sys

import openai
from openai import OpenAI

BASE_URL = os.environ["SY_BASE_URL"] + "/v1"
KEY = os.environ["SY_KEY"]
LIMITED_KEY = os.environ["SY_LIMITED_KEY"]
CHAT = os.environ["SY_CHAT_MODEL"]
OTHER_CHAT = os.environ["SY_OTHER_CHAT_MODEL"]
# A 429 cools its key down: the rate-limited call goes to a model of its own, so the failures
# that follow still reach CHAT's supplier.
LIMITED_CHAT = os.environ["SY_LIMITED_CHAT_MODEL"]
EMBED = os.environ["SY_EMBED_MODEL"]
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

# No retries: each call is one exchange the test scripted.
client = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20)


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def hello():
    return [{"role": "user", "content": "Say hello"}]


def raises(exception, status, call, what):
    try:
        call()
    except exception as error:
        check(error.status_code == status, f"{what}: {type(error).__name__} with status {error.status_code}")
        return error
    except openai.APIError as error:
        check(False, f"{what}: expected {exception.__name__}, got {type(error).__name__}: {error}")
    check(False, f"{what}: expected {exception.__name__}, the call succeeded")


# 1. A whole answer.
answer = client.chat.completions.create(model=CHAT, messages=hello())
check(answer.choices[0].message.content == "Hello from the fake upstream.", "chat: the answer")
check(answer.choices[0].finish_reason == "stop", "chat: finish_reason")
check(answer.usage.prompt_tokens == 12 and answer.usage.completion_tokens == 7, "chat: usage")

# 2. A stream with include_usage.
chunks = list(
    client.chat.completions.create(model=CHAT, messages=hello(), stream=True, stream_options={"include_usage": True})
)
text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
check(text == "Hello from the fake upstream.", "stream: the text")
check(chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 19, "stream: the usage chunk")
check(sum(1 for chunk in chunks if chunk.usage is not None) == 1, "stream: one usage chunk")

# 3. Tools, the arguments parsed by the SDK's own types.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
answer = client.chat.completions.create(model=CHAT, messages=hello(), tools=tools, tool_choice="auto")
calls = answer.choices[0].message.tool_calls
check(answer.choices[0].finish_reason == "tool_calls", "tools: finish_reason")
check(len(calls) == 1 and calls[0].function.name == "get_weather", "tools: the call")
check(json.loads(calls[0].function.arguments) == {"city": "Paris"}, "tools: the arguments")

# 4. Image input.
answer = client.chat.completions.create(
    model=CHAT,
    messages=[
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            ],
        }
    ],
)
check(answer.choices[0].message.content == "Hello from the fake upstream.", "image input: answered")

# 5. Embeddings as floats, then as the SDK's default (base64, decoded by the SDK).
floats = client.embeddings.create(model=EMBED, input=["first", "second"], encoding_format="float")
check(len(floats.data) == 2 and len(floats.data[0].embedding) == 8, "embeddings (float): two vectors of 8")
def same(left, right):
    # JSON carries the f32s' shortest decimals, base64 their exact bits: equal to f32 precision.
    return len(left) == len(right) and all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(left, right))


default = client.embeddings.create(model=EMBED, input="first")
check(same(default.data[0].embedding, floats.data[0].embedding), "embeddings (base64): the same vector")
raw = client.embeddings.create(model=EMBED, input="first", encoding_format="base64")
decoded = list(struct.unpack("<8f", base64.b64decode(raw.data[0].embedding)))
check(same(decoded, floats.data[0].embedding), "embeddings (base64 asked): little-endian floats")

# 6. The models.
ids = [model.id for model in client.models.list()]
check(CHAT in ids and EMBED in ids, "models: listed")
model = client.models.retrieve(CHAT)
check(model.id == CHAT and model.owned_by, "models: retrieved")
raises(openai.NotFoundError, 404, lambda: client.models.retrieve("no-such-model"), "models: unknown")

# 7. Each error class.
wrong = OpenAI(base_url=BASE_URL, api_key="sy-" + "x" * 43, max_retries=0)
raises(openai.AuthenticationError, 401, lambda: wrong.chat.completions.create(model=CHAT, messages=hello()), "bad key")
limited = OpenAI(base_url=BASE_URL, api_key=LIMITED_KEY, max_retries=0)
raises(
    openai.PermissionDeniedError,
    403,
    lambda: limited.chat.completions.create(model=OTHER_CHAT, messages=hello()),
    "a model the key may not use",
)
error = raises(
    openai.NotFoundError, 404, lambda: client.chat.completions.create(model="gpt-9", messages=hello()), "unknown model"
)
check(error.code == "model_not_found", "unknown model: code model_not_found")
raises(
    openai.BadRequestError,
    400,
    lambda: client.chat.completions.create(model=CHAT, messages=hello(), temperature=5),
    "bad request",
)
error = raises(
    openai.RateLimitError, 429, lambda: client.chat.completions.create(model=LIMITED_CHAT, messages=hello()), "rate limited"
)
check(error.response.headers.get("retry-after") == "7", "rate limited: Retry-After")
raises(openai.InternalServerError, 502, lambda: client.chat.completions.create(model=CHAT, messages=hello()), "upstream failure")
raises(openai.InternalServerError, 503, lambda: client.chat.completions.create(model=CHAT, messages=hello()), "overloaded")
raises(openai.InternalServerError, 504, lambda: client.chat.completions.create(model=CHAT, messages=hello()), "upstream timeout")
print("all checks passed", flush=True)
