"""A FastAPI app on gureum, unchanged from how it runs on AWS Lambda: Mangum turns API Gateway's
events (payload format 2.0 or 1.0, and function URLs') into ASGI requests and back."""

from fastapi import FastAPI, Header, HTTPException
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI(title="books")

BOOKS = {1: {"id": 1, "title": "The Cloud Atlas", "year": 2004}}


class NewBook(BaseModel):
    title: str
    year: int


@app.get("/books/{book_id}")
def get_book(book_id: int, fields: str | None = None) -> dict[str, object]:
    book = BOOKS.get(book_id)
    if book is None:
        raise HTTPException(status_code=404, detail=f"no book {book_id}")
    if fields:
        return {k: v for k, v in book.items() if k in fields.split(",")}
    return book


@app.post("/books", status_code=201)
def add_book(book: NewBook, x_request_source: str = Header("unknown")) -> dict[str, object]:
    # Not stored: each instance of a function has its own memory, so a real app uses a database.
    return {"id": len(BOOKS) + 1, **book.model_dump(), "source": x_request_source}


# lifespan="off": a Lambda function has no ASGI lifespan worth waiting for on each cold start.
handler = Mangum(app, lifespan="off")
