// The resident area (mobile first: it runs in a WeChat web-view): a tab bar and its screens.
import { lazy, type ReactNode } from "react";
import { NavLink, Route, Routes } from "react-router";

import { ConversationsLink } from "../conversations/ConversationsLink";
import { LiveWatchRoute } from "../live/lazy";
import { Bell } from "../notifications/Bell";
import { resident } from "../strings";
import { CashierPage } from "./CashierPage";
import { CommunitiesPage } from "./CommunitiesPage";
import { HomePage } from "./HomePage";
import { ListingPage } from "./ListingPage";
import { MePage } from "./MePage";
import { MyListingsPage } from "./MyListingsPage";
import { OrderPage } from "./OrderPage";
import { OrdersPage } from "./OrdersPage";
import { PublishPage } from "./PublishPage";
import { SearchPage } from "./SearchPage";

const channelScreens = () => import("../channel/ChannelRoutes");
const ChannelHome = lazy(() => channelScreens().then((m) => ({ default: m.ChannelHome })));
const ChannelById = lazy(() => channelScreens().then((m) => ({ default: m.ChannelById })));
const LotteryVerify = lazy(() => channelScreens().then((m) => ({ default: m.VerifyPage })));
const Support = lazy(() => channelScreens().then((m) => ({ default: m.SupportPage })));
const Demographics = lazy(() => import("../insights/DemographicsPage"));
const Points = lazy(() => import("./PointsPage").then((m) => ({ default: m.PointsPage })));
const CouponCentre = lazy(() => import("./CouponCentrePage"));
const MyCoupons = lazy(() => import("./MyCouponsPage"));
const Notifications = lazy(() => import("../notifications/NotificationsPage"));
const Membership = lazy(() => import("../subscriptions/MembershipPage"));
const VirtualNumber = lazy(() => import("../subscriptions/VirtualNumberPage"));
const SignAgreement = lazy(() => import("../subscriptions/SignPage"));
const Events = lazy(() => import("../events/EventsPage"));
const EventDetail = lazy(() => import("../events/EventPage"));
const conversationScreens = () => import("../conversations/ResidentPages");
const Conversations = lazy(() => conversationScreens().then((m) => ({ default: m.ConversationsPage })));
const Conversation = lazy(() => conversationScreens().then((m) => ({ default: m.ConversationPage })));
const Swaps = lazy(() => import("../swaps/SwapsPage"));
const SwapCashier = lazy(() => import("../swaps/SwapCashierPage"));
const Courses = lazy(() => import("../courses/CoursesPage"));
const CourseDetail = lazy(() => import("../courses/CourseDetailPage"));
const MyCourses = lazy(() => import("../courses/MyCoursesPage"));
const CourseReplay = lazy(() => import("../courses/ReplayPage"));
const CourseLive = lazy(() => import("../courses/ClassLivePage"));

export default function ResidentApp(): ReactNode {
  return (
    <div className="mobile">
      <header className="mobile-top">
        <ConversationsLink />
        <Bell to="/notifications" />
      </header>
      <main className="mobile-main">
        <Routes>
          <Route index element={<HomePage />} />
          <Route path="me" element={<MePage />} />
          <Route path="channel" element={<ChannelHome />} />
          <Route path="channel/:communityId" element={<ChannelById />} />
          <Route path="lottery/:drawId" element={<LotteryVerify />} />
          <Route path="support" element={<Support />} />
          <Route path="notifications" element={<Notifications />} />
          <Route path="messages" element={<Conversations />} />
          <Route path="messages/:id" element={<Conversation />} />
          <Route path="search" element={<SearchPage />} />
          <Route path="communities" element={<CommunitiesPage />} />
          <Route path="listings/:id" element={<ListingPage />} />
          <Route path="publish" element={<PublishPage />} />
          <Route path="me/listings" element={<MyListingsPage />} />
          <Route path="me/membership" element={<Membership />} />
          <Route path="me/virtual-number" element={<VirtualNumber />} />
          <Route path="subscriptions/:id/sign" element={<SignAgreement />} />
          <Route path="me/points" element={<Points />} />
          <Route path="me/profile-data" element={<Demographics />} />
          <Route path="coupons" element={<CouponCentre />} />
          <Route path="me/coupons" element={<MyCoupons />} />
          <Route path="me/swaps" element={<Swaps />} />
          <Route path="swaps/:id/pay" element={<SwapCashier />} />
          <Route path="orders" element={<OrdersPage />} />
          <Route path="orders/:id" element={<OrderPage />} />
          <Route path="orders/:id/pay" element={<CashierPage />} />
          <Route path="live/:communityId?" element={<LiveWatchRoute />} />
          <Route path="events" element={<Events />} />
          <Route path="events/:id" element={<EventDetail />} />
          <Route path="courses" element={<Courses />} />
          <Route path="courses/:id" element={<CourseDetail />} />
          <Route path="courses/:id/lessons/:lessonId/replay" element={<CourseReplay />} />
          <Route path="courses/:id/lessons/:lessonId/live" element={<CourseLive />} />
          <Route path="me/courses" element={<MyCourses />} />
          <Route path="*" element={<HomePage />} />
        </Routes>
      </main>
      <nav className="tabbar" aria-label={resident.tabs.nav}>
        <NavLink to="/" end>{resident.tabs.home}</NavLink>
        <NavLink to="/channel">{resident.tabs.channel}</NavLink>
        <NavLink to="/publish">{resident.tabs.publish}</NavLink>
        <NavLink to="/orders">{resident.tabs.orders}</NavLink>
        <NavLink to="/me">{resident.tabs.me}</NavLink>
      </nav>
    </div>
  );
}
