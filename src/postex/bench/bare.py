"""The baseline of ``postex bench serve``: a bare FastAPI ``async def`` endpoint."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}
