// Keyun's contract as a client in another language meets it: stubs loaded from the .proto files in
// proto/ (no generated Python involved), server reflection v1, login, a counter sale, an order paid
// in cash, check-in, and a refusal decoded from its google.rpc.Status trailer with the vendored
// proto/google/rpc files.
//
//   node contract.js HOST:PORT TRIP_ID LOGIN_NAME PASSWORD
//
// TRIP_ID must be boarding (its check-in open) with AAA and BBB among its stops.  Prints one JSON
// line with what it did and exits 0, or prints the failure on stderr and exits 1.
// tests/test_node_client.py starts a server, runs this and checks the server's side of it.
'use strict';

const crypto = require('crypto');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO = path.resolve(__dirname, '..', '..', 'proto');
const REFLECTION_PROTO = path.join(__dirname, 'node_modules', '@grpc', 'reflection', 'build', 'proto');
// Strings for enums and 64-bit numbers, snake_case names as in the .proto files.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const DEADLINE_MS = 30_000;

function check(condition, what) {
  if (!condition) throw new Error(`contract: ${what}`);
}

function deadline() {
  return new Date(Date.now() + DEADLINE_MS);
}

// One unary call as a promise.
function call(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: deadline() }, (error, reply) => (error ? reject(error) : resolve(reply)));
  });
}

// Reflection v1: the services the server lists.
function listServices(target) {
  const definition = loader.loadSync('grpc/reflection/v1/reflection.proto', { ...LOADER_OPTIONS, includeDirs: [REFLECTION_PROTO] });
  const { ServerReflection } = grpc.loadPackageDefinition(definition).grpc.reflection.v1;
  const client = new ServerReflection(target, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const names = [];
    const stream = client.ServerReflectionInfo({ deadline: deadline() });
    stream.on('data', (reply) => names.push(...reply.list_services_response.service.map((s) => s.name)));
    stream.on('error', reject);
    stream.on('end', () => {
      client.close();
      resolve(names);
    });
    stream.write({ list_services: '' });
    stream.end();
  });
}

// The google.rpc.Status of a refusal, with each detail decoded by its type URL.
function statusOf(error) {
  const rpc = new protobuf.Root().loadSync(['status.proto', 'error_details.proto'].map((f) => path.join(PROTO, 'google', 'rpc', f)), { keepCase: true });
  const [raw] = error.metadata.get('grpc-status-details-bin');
  check(raw, `refusal ${error.code} carries no grpc-status-details-bin trailer`);
  const status = rpc.lookupType('google.rpc.Status').decode(raw);
  const details = status.details.map((any) => {
    const type = rpc.lookupType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
    return { type: type.fullName.slice(1), ...type.toObject(type.decode(any.value)) };
  });
  return { code: status.code, message: status.message, details };
}

async function main([target, tripId, loginName, password]) {
  check(target && tripId && loginName && password, 'usage: node contract.js HOST:PORT TRIP_ID LOGIN_NAME PASSWORD');
  const services = await listServices(target);
  for (const wanted of ['keyun.v1.Accounts', 'keyun.v1.Sales', 'keyun.v1.Orders', 'keyun.v1.Gate']) {
    check(services.includes(wanted), `reflection v1 does not list ${wanted}: ${services}`);
  }

  const files = ['accounts', 'sales', 'orders', 'gate'].map((name) => `keyun/v1/${name}.proto`);
  const v1 = grpc.loadPackageDefinition(loader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [PROTO] })).keyun.v1;
  const insecure = grpc.credentials.createInsecure();
  const [accounts, sales, orders, gate] = [v1.Accounts, v1.Sales, v1.Orders, v1.Gate].map((Stub) => new Stub(target, insecure));
  const requestId = () => crypto.randomUUID();

  const login = await call(accounts, 'Login', { login_name: loginName, password });
  check(login.access_token, 'Login gave no access token');
  const auth = new grpc.Metadata();
  auth.set('authorization', `Bearer ${login.access_token}`);

  const sold = await call(sales, 'Sell', { request_id: requestId(), trip_id: tripId, from_station: 'AAA', to_station: 'BBB', seat_count: 1 }, auth);
  check(sold.tickets.length === 1 && sold.tickets[0].status === 'TICKET_STATUS_ISSUED', `Sell: ${JSON.stringify(sold)}`);

  const held = await call(sales, 'Hold', { request_id: requestId(), trip_id: tripId, from_station: 'AAA', to_station: 'BBB', seat_count: 1 }, auth);
  const created = await call(orders, 'CreateOrder', { request_id: requestId(), hold_id: held.hold.hold_id, method: 'PAY_METHOD_CASH' }, auth);
  check(created.order.status === 'ORDER_STATUS_PENDING_PAYMENT', `CreateOrder: ${created.order.status}`);
  const paid = await call(orders, 'PayAtCounter', { request_id: requestId(), order_id: created.order.order_id, method: 'PAY_METHOD_CASH' }, auth);
  check(paid.order.status === 'ORDER_STATUS_TICKETED' && paid.order.tickets.length === 1, `PayAtCounter: ${paid.order.status}`);

  const tickets = [sold.tickets[0].ticket_id, paid.order.tickets[0].ticket_id];
  for (const ticketId of tickets) {
    const boarded = await call(gate, 'CheckIn', { request_id: requestId(), ticket_id: ticketId, gate_id: 'G1' }, auth);
    check(boarded.ticket.status === 'TICKET_STATUS_CHECKED_IN', `CheckIn ${ticketId}: ${boarded.ticket.status}`);
  }

  let refusal = null;
  try {
    await call(gate, 'CheckIn', { request_id: requestId(), ticket_id: tickets[0], gate_id: 'G2' }, auth);
  } catch (error) {
    refusal = { grpc_code: error.code, ...statusOf(error) };
  }
  check(refusal, 'a second check-in of the same ticket was not refused');

  accounts.close(); sales.close(); orders.close(); gate.close();
  return { services, sold: tickets[0], order: paid.order.order_id, ordered: tickets[1], refusal };
}

main(process.argv.slice(2)).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error.stack || String(error));
    process.exit(1);
  },
);
