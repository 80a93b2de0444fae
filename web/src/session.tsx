// Who is signed in, and in which communities. The session itself is the HttpOnly cookie pair; this
// only mirrors /me and /me/communities for the screens. Permissions are checked by the API on
// every action: the interface hides what a role cannot do, it never is the check.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { ApiError, http, whenSignedOut } from "./api/http";
import { closeRealtime } from "./api/realtime";

export interface Me {
  id: string;
  phone: string;
  display_name: string;
  platform_role: "admin" | "customer_service" | null;
  created_at: string;
}

export interface MyCommunity {
  id: string;
  name: string;
  address: string;
  property_company_id: string | null;
  role: "resident" | "property_staff";
  status: "pending" | "verified" | "rejected" | string;
}

interface SessionValue {
  me: Me | null;
  communities: MyCommunity[];
  loading: boolean;
  reload: () => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }): ReactNode {
  const [me, setMe] = useState<Me | null>(null);
  const [communities, setCommunities] = useState<MyCommunity[]>([]);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    try {
      const [who, mine] = await Promise.all([http.get<Me>("/me"), http.get<MyCommunity[]>("/me/communities")]);
      setMe(who);
      setCommunities(mine);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      setMe(null);
      setCommunities([]);
    } finally {
      setLoading(false);
    }
  }, []);

  const logout = useCallback(async () => {
    await http.post("/auth/logout").catch(() => undefined);
    closeRealtime();
    setMe(null);
    setCommunities([]);
  }, []);

  useEffect(() => {
    whenSignedOut(() => {
      closeRealtime();
      setMe(null);
    });
    void reload().catch(() => setLoading(false));
  }, [reload]);

  const value = useMemo(() => ({ me, communities, loading, reload, logout }), [me, communities, loading, reload, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}
