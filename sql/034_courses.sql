-- Courses (children's classes: LEGO building, STEM; issue 20 item 4): courses published by a
-- merchant or the platform, their lessons (the schedule; a lesson may run as a live class that the
-- node records), enrolments (free, or paid through the provider), progress per resident, ratings
-- and favourites. docs/courses.md explains the rules; lago_core/courses/ holds them.

CREATE TABLE courses (
    id              uuid PRIMARY KEY,
    owner_kind      text NOT NULL CHECK (owner_kind IN ('merchant', 'platform')),
    merchant_id     uuid REFERENCES merchants (id) ON DELETE RESTRICT,
    created_by      uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    title           text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    category        text NOT NULL CHECK (category IN ('lego', 'stem', 'art', 'music', 'sports', 'other')),
    instructor      text NOT NULL CHECK (char_length(instructor) BETWEEN 1 AND 60),
    -- The user who teaches live (may publish the course's live classes besides the owner's staff).
    instructor_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    cover_url       text CHECK (char_length(cover_url) <= 500),
    price_fen       bigint NOT NULL CHECK (price_fen >= 0 AND price_fen <= 100000000),
    capacity        integer CHECK (capacity BETWEEN 1 AND 100000),
    status          text NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published', 'archived')),
    enrolled_count  integer NOT NULL DEFAULT 0 CHECK (enrolled_count >= 0),
    rating_count    integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_sum      integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT courses_owner CHECK ((owner_kind = 'merchant') = (merchant_id IS NOT NULL)),
    -- Paid platform courses need a platform revenue flow that does not exist yet (docs/courses.md).
    CONSTRAINT courses_platform_free CHECK (owner_kind = 'merchant' OR price_fen = 0),
    CONSTRAINT courses_within_capacity CHECK (capacity IS NULL OR enrolled_count <= capacity)
);
CREATE INDEX courses_listing_idx ON courses (created_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX courses_merchant_idx ON courses (merchant_id, created_at DESC);

CREATE TABLE course_lessons (
    id                  uuid PRIMARY KEY,
    course_id           uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title               text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    starts_at           timestamptz NOT NULL,
    duration_min        integer NOT NULL CHECK (duration_min BETWEEN 1 AND 600),
    live_status         text NOT NULL DEFAULT 'scheduled'
                        CHECK (live_status IN ('scheduled', 'live', 'ended')),
    live_session_id     text,
    live_node           text,
    live_host_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    live_started_at     timestamptz,
    live_ended_at       timestamptz,
    -- The recording in storage (WebM, VP8 + Opus as the publisher sent them; never public).
    recording_key       text,
    recording_bytes     bigint CHECK (recording_bytes >= 0),
    recording_ms        integer CHECK (recording_ms >= 0),
    recording_frames    integer CHECK (recording_frames >= 0),
    created_at          timestamptz NOT NULL,
    CONSTRAINT course_lessons_live CHECK (
        (live_status = 'scheduled') = (live_session_id IS NULL)
    )
);
CREATE INDEX course_lessons_course_idx ON course_lessons (course_id, starts_at, id);

CREATE TABLE course_enrolments (
    id              uuid PRIMARY KEY,
    course_id       uuid NOT NULL REFERENCES courses (id) ON DELETE RESTRICT,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status          text NOT NULL CHECK (status IN ('pending_payment', 'active', 'cancelled', 'refunded')),
    price_fen       bigint NOT NULL CHECK (price_fen >= 0),
    payment_id      uuid REFERENCES payments (id) ON DELETE RESTRICT,
    created_at      timestamptz NOT NULL,
    activated_at    timestamptz,
    ended_at        timestamptz,
    UNIQUE (course_id, user_id),
    CONSTRAINT course_enrolments_paid CHECK (
        status <> 'active' OR price_fen = 0 OR payment_id IS NOT NULL
    )
);
CREATE INDEX course_enrolments_user_idx ON course_enrolments (user_id, created_at DESC);

-- A lesson is complete when attended live or when its replay was watched to 90 %.
CREATE TABLE course_lesson_progress (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id       uuid NOT NULL REFERENCES course_lessons (id) ON DELETE CASCADE,
    course_id       uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    attended_live   boolean NOT NULL DEFAULT false,
    watched_ms      integer NOT NULL DEFAULT 0 CHECK (watched_ms >= 0),
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX course_lesson_progress_course_idx ON course_lesson_progress (user_id, course_id);

CREATE TABLE course_ratings (
    course_id       uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stars           smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment         text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 500),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (course_id, user_id)
);

CREATE TABLE course_favourites (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id       uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, course_id)
);

-- Paid enrolments settle like other merchant sales (docs/courses.md): due seven days after the
-- course's first class began (the refund window closed then), one item per enrolment.
CREATE TABLE settlement_course_items (
    settlement_id           uuid NOT NULL REFERENCES settlements (id),
    enrolment_id            uuid NOT NULL UNIQUE REFERENCES course_enrolments (id),
    gross_fen               bigint NOT NULL,
    commission_fen          bigint NOT NULL,
    property_share_fen      bigint NOT NULL,
    withheld_fen            bigint NOT NULL,
    net_fen                 bigint NOT NULL,
    merchant_discount_fen   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (settlement_id, enrolment_id)
);
