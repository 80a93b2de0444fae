export const merchant = {
  title: "商家后台",
  nav: { dashboard: "经营概况", orders: "订单", catalogue: "商品", settlements: "结算", settings: "店铺设置", registration: "入驻申请" },
  choose: "选择店铺",
  none: "你还没有商家账号",
  register: "申请入驻",
} as const;
