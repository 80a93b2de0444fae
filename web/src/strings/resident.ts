export const resident = {
  tabs: { home: "首页", channel: "频道", publish: "发布", orders: "订单", me: "我的" },
  home: {
    title: "小区好物",
    searchPlaceholder: "说说你想要什么，如：两百以内的switch游戏",
    search: "搜索",
    noCommunity: "还没有加入小区",
    joinCommunity: "加入小区",
  },
  listing: {
    kinds: { sale: "出售", consignment: "寄卖", rent: "出租" } as Record<string, string>,
    perDay: "/天",
    deposit: "押金",
  },
  me: {
    title: "我的",
    communities: "我的小区",
    verification: { pending: "待验证", verified: "已验证", rejected: "未通过" } as Record<string, string>,
    roles: { resident: "居民", property_staff: "物业" } as Record<string, string>,
    toMerchant: "商家后台",
    toConsole: "管理控制台",
  },
} as const;
