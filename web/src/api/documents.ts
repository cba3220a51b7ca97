// Every GraphQL document the dashboard sends, with the shapes of their answers. Field names
// follow graphql_schema/schema.graphql; mutation results are unions read by __typename.

export interface FieldError {
  field: string;
  message: string;
  code: string;
}

/** The members of mutation result unions that report an expected failure. */
export type UnionFailure =
  | { __typename: "ValidationError"; message: string; fields: FieldError[] }
  | { __typename: "EmailTakenError"; message: string; email: string }
  | { __typename: "InvalidCredentialsError"; message: string }
  | { __typename: "RateLimitedError"; message: string; retryAfterSeconds: number }
  | { __typename: "NotFoundError"; message: string }
  | { __typename: "InsufficientDataError"; message: string; required: number; available: number };

// A fragment may only name members of the union it is spread in: each document lists its own.
const ERROR = "... on Error { message }";
const VALIDATION_ERROR = "... on ValidationError { fields { field message code } }";
const EMAIL_TAKEN_ERROR = "... on EmailTakenError { email }";
const RATE_LIMITED_ERROR = "... on RateLimitedError { retryAfterSeconds }";
const INSUFFICIENT_DATA_ERROR = "... on InsufficientDataError { required available }";

export interface User {
  id: string;
  name: string;
  email: string;
  watchlist: string[];
}

export interface AuthPayload {
  __typename: "AuthPayload";
  token: string;
  user: User;
}

const USER_FIELDS = "id name email watchlist";

export const REGISTER = `mutation Register($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on AuthPayload { token user { ${USER_FIELDS} } }
    ${ERROR} ${VALIDATION_ERROR} ${EMAIL_TAKEN_ERROR} ${RATE_LIMITED_ERROR}
  }
}`;
export type RegisterData = { register: AuthPayload | UnionFailure };

export const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) {
    __typename
    ... on AuthPayload { token user { ${USER_FIELDS} } }
    ${ERROR} ${VALIDATION_ERROR} ${RATE_LIMITED_ERROR}
  }
}`;
export type LoginData = { login: AuthPayload | UnionFailure };

export const ME = `query Me { me { ${USER_FIELDS} } }`;
export type MeData = { me: User | null };

export const ADD_TO_WATCHLIST = `mutation Add($symbol: String!) {
  addToWatchlist(symbol: $symbol) { ${USER_FIELDS} }
}`;
export type AddToWatchlistData = { addToWatchlist: User };

export const REMOVE_FROM_WATCHLIST = `mutation Remove($symbol: String!) {
  removeFromWatchlist(symbol: $symbol) { ${USER_FIELDS} }
}`;
export type RemoveFromWatchlistData = { removeFromWatchlist: User };

export interface SymbolMatch {
  symbol: string;
  name: string;
  region: string | null;
}

export const SEARCH_SYMBOLS = `query Search($query: String!) {
  searchSymbols(query: $query) { symbol name region }
}`;
export type SearchSymbolsData = { searchSymbols: SymbolMatch[] };

export const SYMBOLS = `query Symbols { symbols }`;
export type SymbolsData = { symbols: string[] };

export type Interval =
  | "ONE_MINUTE"
  | "FIVE_MINUTES"
  | "FIFTEEN_MINUTES"
  | "THIRTY_MINUTES"
  | "ONE_HOUR"
  | "DAILY"
  | "WEEKLY";

export interface Point {
  timestamp: string;
  value: number;
}

export interface PriceHistory {
  source: string;
  stale: boolean;
  columns: {
    timestamp: string[];
    open: number[];
    high: number[];
    low: number[];
    close: number[];
    volume: number[];
  };
  sma: Point[];
  ema: Point[];
  rsi: Point[];
  macd: { timestamp: string; macd: number; signal: number; histogram: number }[];
  bollinger: { timestamp: string; upper: number; middle: number; lower: number }[];
}

export const HISTORY = `query History($symbol: String!, $interval: Interval!, $start: Date, $limit: Int) {
  history(symbol: $symbol, interval: $interval, start: $start, limit: $limit) {
    source stale
    columns { timestamp open high low close volume }
    sma(window: 20) { timestamp value }
    ema(window: 50) { timestamp value }
    rsi { timestamp value }
    macd { timestamp macd signal histogram }
    bollinger { timestamp upper middle lower }
  }
}`;
export type HistoryData = { history: PriceHistory };

export interface Prediction {
  __typename: "Prediction";
  id: string;
  recommendation: "BUY" | "HOLD" | "SELL";
  confidence: number;
  probabilities: { buy: number; hold: number; sell: number };
  method: "RULES" | "MODEL";
  modelVersion: string | null;
  horizonDays: number;
  price: number;
  asOf: string;
  reasons: { code: string; description: string }[];
  createdAt: string;
}

const PREDICTION_FIELDS = `id recommendation confidence probabilities { buy hold sell }
  method modelVersion horizonDays price asOf reasons { code description } createdAt`;

export const PREDICT = `mutation Predict($symbol: String!) {
  predict(input: { symbol: $symbol }) {
    __typename
    ... on Prediction { ${PREDICTION_FIELDS} }
    ${ERROR} ${VALIDATION_ERROR} ${RATE_LIMITED_ERROR} ${INSUFFICIENT_DATA_ERROR}
  }
}`;
export type PredictData = { predict: Prediction | UnionFailure };

export const PREDICTIONS = `query Predictions($symbol: String!) {
  predictions(symbol: $symbol, limit: 10) { __typename ${PREDICTION_FIELDS} }
}`;
export type PredictionsData = { predictions: Prediction[] };

export interface ClassificationMetrics {
  samples: number;
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
}

export interface StrategyMetrics {
  totalReturn: number;
  buyAndHoldReturn: number;
  sharpe: number;
  maxDrawdown: number;
  trades: number;
}

export interface StrategyRun {
  totalReturn: number;
  sharpe: number;
}

export interface SymbolEvaluation {
  symbol: string;
  testRows: number;
  testStart: string;
  testEnd: string;
  model: { balancedAccuracy: number };
  rules: { balancedAccuracy: number };
  majority: { balancedAccuracy: number };
  modelStrategy: StrategyRun;
  rulesStrategy: StrategyRun;
  buyAndHold: StrategyRun;
}

export interface LabelCount {
  label: "BUY" | "HOLD" | "SELL";
  count: number;
  share: number;
}

export interface ModelInfo {
  version: string;
  trainedAt: string;
  algorithm: string;
  horizonDays: number;
  symbols: string[];
  metrics: ClassificationMetrics;
  baselineMetrics: ClassificationMetrics;
  majorityMetrics: ClassificationMetrics;
  strategy: StrategyMetrics;
  baselineStrategy: StrategyMetrics;
  symbolEvaluations: SymbolEvaluation[];
  labelDistribution: LabelCount[];
}

const CLASSIFICATION = "samples accuracy balancedAccuracy macroF1";
const STRATEGY = "totalReturn buyAndHoldReturn sharpe maxDrawdown trades";
const RUN = "totalReturn sharpe";

export const MODEL_INFO = `query ModelInfo {
  modelInfo {
    version trainedAt algorithm horizonDays symbols
    metrics { ${CLASSIFICATION} } baselineMetrics { ${CLASSIFICATION} }
    majorityMetrics { ${CLASSIFICATION} }
    strategy { ${STRATEGY} } baselineStrategy { ${STRATEGY} }
    symbolEvaluations {
      symbol testRows testStart testEnd
      model { balancedAccuracy } rules { balancedAccuracy } majority { balancedAccuracy }
      modelStrategy { ${RUN} } rulesStrategy { ${RUN} } buyAndHold { ${RUN} }
    }
    labelDistribution { label count share }
  }
}`;
export type ModelInfoData = { modelInfo: ModelInfo | null };

export type AlertCondition =
  | "PRICE_ABOVE"
  | "PRICE_BELOW"
  | "CROSSES_ABOVE"
  | "CROSSES_BELOW"
  | "PERCENT_CHANGE_ABOVE"
  | "PERCENT_CHANGE_BELOW"
  | "RSI_ABOVE"
  | "RSI_BELOW"
  | "RECOMMENDATION_CHANGED";

export type AlertFrequency = "ONCE" | "ONCE_PER_DAY" | "EVERY_TIME";

export interface Alert {
  __typename: "Alert";
  id: string;
  symbol: string;
  condition: AlertCondition;
  threshold: number | null;
  frequency: AlertFrequency;
  active: boolean;
  lastTriggeredAt: string | null;
}

const ALERT_FIELDS = "id symbol condition threshold frequency active lastTriggeredAt";

export const MY_ALERTS = `query MyAlerts { me { alerts { __typename ${ALERT_FIELDS} } } }`;
export type MyAlertsData = { me: { alerts: Alert[] } | null };

export const CREATE_ALERT = `mutation CreateAlert($input: CreateAlertInput!) {
  createAlert(input: $input) {
    __typename
    ... on Alert { ${ALERT_FIELDS} }
    ${ERROR} ${VALIDATION_ERROR}
  }
}`;
export type CreateAlertData = { createAlert: Alert | UnionFailure };

export const DELETE_ALERT = `mutation DeleteAlert($id: ID!) { deleteAlert(id: $id) }`;
export type DeleteAlertData = { deleteAlert: boolean };

export interface Notification {
  id: string;
  type: "PRICE_ALERT" | "PREDICTION_UPDATE" | "ACCOUNT_UPDATE";
  symbol: string | null;
  message: string;
  read: boolean;
  createdAt: string;
}

const NOTIFICATION_FIELDS = "id type symbol message read createdAt";

export const NOTIFICATIONS = `query Notifications {
  notifications(limit: 30) { ${NOTIFICATION_FIELDS} }
}`;
export type NotificationsData = { notifications: Notification[] };

export const MARK_NOTIFICATIONS_READ = `mutation MarkRead { markNotificationsRead }`;
export type MarkNotificationsReadData = { markNotificationsRead: number };

export const USER_NOTIFICATIONS = `subscription Mine {
  userNotifications { ${NOTIFICATION_FIELDS} }
}`;
export type UserNotificationsData = { userNotifications: Notification };

export interface PriceUpdate {
  symbol: string;
  price: number;
  change: number | null;
  changePercent: number | null;
  timestamp: string;
  sequence: string;
}

export const STOCK_PRICE = `subscription Price($symbol: String!, $after: String) {
  stockPrice(symbol: $symbol, after: $after) {
    symbol price change changePercent timestamp sequence
  }
}`;
export type StockPriceData = { stockPrice: PriceUpdate };

export const PREDICTION_UPDATES = `subscription PredictionUpdates($symbol: String!) {
  predictionUpdates(symbol: $symbol) { predictionId prediction confidence }
}`;
export type PredictionUpdatesData = {
  predictionUpdates: { predictionId: string; prediction: string; confidence: number };
};
