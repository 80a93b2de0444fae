// The course API's shapes (lago_rest/routes/courses.py; the OpenAPI document is the reference).
export type Category = "lego" | "stem" | "art" | "music" | "sports" | "other";
export const CATEGORIES: Category[] = ["lego", "stem", "art", "music", "sports", "other"];

export interface Course {
  id: string;
  owner_kind: "merchant" | "platform";
  merchant_id: string | null;
  title: string;
  category: Category;
  instructor: string;
  instructor_id: string | null;
  description: string;
  cover_url: string | null;
  price_fen: number;
  capacity: number | null;
  status: "draft" | "published" | "archived";
  enrolled_count: number;
  rating_count: number;
  rating_average: number | null;
  created_at: string;
}

export interface Lesson {
  id: string;
  course_id: string;
  title: string;
  starts_at: string;
  duration_min: number;
  live_status: "scheduled" | "live" | "ended";
  has_recording: boolean;
  recording_ms: number | null;
  recording_url: string | null;
}

export interface Enrolment {
  id: string;
  course_id: string;
  user_id: string;
  status: "pending_payment" | "active" | "cancelled" | "refunded";
  price_fen: number;
  payment_id: string | null;
}

export interface CourseDetail {
  course: Course;
  lessons: Lesson[];
  enrolment: Enrolment | null;
  favourite: boolean;
  can_host: boolean;
  can_manage: boolean;
}

export interface Payment {
  id: string;
  provider_intent_id: string | null;
  client_secret: string | null;
  status: string;
  total_fen: number;
}

export interface MyCourse extends Course {
  enrolment_status: Enrolment["status"];
  lessons: number;
  completed: number;
}

export interface Enrolled extends Enrolment {
  name: string;
  completed: number;
}

export interface Rating {
  user_id: string;
  name: string;
  stars: number;
  comment: string;
}
