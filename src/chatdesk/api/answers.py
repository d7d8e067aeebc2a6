"""Curated answers, and an agent's correction of a bot reply (which creates one)."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import STAFF_SECURITY, staff_user
from chatdesk.api.problems import ProblemResponses, json_response
from chatdesk.api.staff_schemas import (
    AnswerBody,
    AnswerListQuery,
    AnswerOut,
    AnswerPatch,
    AnswerPath,
    AnswersOut,
    CorrectionBody,
    MessagePath,
)
from chatdesk.services import curated
from chatdesk.services.staff import Permission

bp = APIBlueprint("answers", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="answers", description="Curated answers and corrections")],
                  abp_security=STAFF_SECURITY, abp_responses=ProblemResponses)


@bp.post("/messages/<message_id>/correction", responses={201: AnswerOut},
         summary="Mark a bot reply wrong and give the right answer; it applies at once")
def correct(path: MessagePath, body: CorrectionBody) -> Response:
    user = staff_user(Permission.ANSWERS_WRITE)
    answer = curated.correct_reply(path.message_id, body.answer, user, body.variants, body.intent)
    return json_response(AnswerOut.of(answer), 201)


@bp.get("/answers", responses={200: AnswersOut}, summary="Curated answers")
def list_answers(query: AnswerListQuery) -> Response:
    staff_user(Permission.ANSWERS_READ)
    return json_response(AnswersOut(answers=[AnswerOut.of(a) for a in curated.list_answers(query.q)]), 200)


@bp.post("/answers", responses={201: AnswerOut}, summary="Write a curated answer")
def create_answer(body: AnswerBody) -> Response:
    user = staff_user(Permission.ANSWERS_WRITE)
    answer = curated.create_answer(body.question, body.answer, body.variants, body.intent, user)
    return json_response(AnswerOut.of(answer), 201)


@bp.get("/answers/<int:answer_id>", responses={200: AnswerOut}, summary="One curated answer")
def get_answer(path: AnswerPath) -> Response:
    staff_user(Permission.ANSWERS_READ)
    return json_response(AnswerOut.of(curated.get_answer(path.answer_id)), 200)


@bp.patch("/answers/<int:answer_id>", responses={200: AnswerOut}, summary="Edit a curated answer")
def update_answer(path: AnswerPath, body: AnswerPatch) -> Response:
    staff_user(Permission.ANSWERS_WRITE)
    answer = curated.update_answer(path.answer_id, question=body.question, answer=body.answer,
                                   variants=body.variants, intent=body.intent, active=body.active)
    return json_response(AnswerOut.of(answer), 200)


@bp.delete("/answers/<int:answer_id>", responses={204: None}, summary="Delete a curated answer")
def delete_answer(path: AnswerPath) -> Response:
    staff_user(Permission.ANSWERS_WRITE)
    curated.delete_answer(path.answer_id)
    return Response(status=204)
