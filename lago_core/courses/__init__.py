"""Courses (children's classes): publishing, enrolments, live classes and their recordings,
progress, ratings and favourites (docs/courses.md)."""

from lago_core.courses.service import (
    CATEGORIES,
    REFERENCE_TYPE,
    REPLAY_COMPLETE_RATIO,
    CourseService,
    CourseSpec,
    Enrolment,
    LessonSpec,
)
from lago_core.courses.store import CourseStore

__all__ = [
    "CATEGORIES",
    "REFERENCE_TYPE",
    "REPLAY_COMPLETE_RATIO",
    "CourseService",
    "CourseSpec",
    "CourseStore",
    "Enrolment",
    "LessonSpec",
]
