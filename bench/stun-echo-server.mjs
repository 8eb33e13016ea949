// The reference for `npm run bench:stun`: the least a Node server can do per request, a bare
// dgram echo (and a TCP echo). Plain JavaScript so that no loader sits in the way.
import dgram from 'node:dgram';
import net from 'node:net';

const [host = '127.0.0.1', port = '0'] = process.argv.slice(2);
const udp = dgram.createSocket('udp4');
udp.on('message', (message, rinfo) => udp.send(message, rinfo.port, rinfo.address));
udp.bind(Number(port), host);
net.createServer((socket) => socket.pipe(socket)).listen(Number(port), host);
