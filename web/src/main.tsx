// The app's entry: three areas, each its own chunk, so a resident's first screen loads only the
// resident code (docs/benchmarks.md, "Web app"). Routes are listed here and in each area's shell.
import { lazy, StrictMode, Suspense, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";

import { LoginPage } from "./auth/LoginPage";
import { SessionProvider, useSession } from "./session";
import "./styles.css";
import { Loading } from "./ui/kit";

const ResidentApp = lazy(() => import("./resident/ResidentApp"));
const MerchantApp = lazy(() => import("./merchant/MerchantApp"));
const ConsoleApp = lazy(() => import("./console/ConsoleApp"));

/** Screens behind a session: a visitor is sent to log in and brought back afterwards. */
function SignedIn({ children }: { children: ReactNode }): ReactNode {
  const { me, loading } = useSession();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!me) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return children;
}

function App(): ReactNode {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/login" element={<LoginPage mode="login" />} />
        <Route path="/signup" element={<LoginPage mode="signup" />} />
        <Route path="/merchant/*" element={<SignedIn><MerchantApp /></SignedIn>} />
        <Route path="/console/*" element={<SignedIn><ConsoleApp /></SignedIn>} />
        <Route path="/*" element={<SignedIn><ResidentApp /></SignedIn>} />
      </Routes>
    </Suspense>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <BrowserRouter>
        <SessionProvider>
          <App />
        </SessionProvider>
      </BrowserRouter>
    </StrictMode>,
  );
}
